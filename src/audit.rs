//! The audit trail: every security event is stored (`audit_events`) and logged as one
//! structured line (target `audit`). Passwords, tokens and session secrets never appear in it
//! (OWASP Logging cheat sheet, "Data to exclude"; ASVS 5.0 V16.2).

use crate::account::User;
use crate::app::AppState;
use crate::client::ClientInfo;
use crate::store::AuditEvent;

impl AuditEvent {
    pub fn new(state: &AppState, kind: &str, client: &ClientInfo) -> Self {
        Self {
            at: state.clock.now(),
            kind: kind.to_owned(),
            user_id: None,
            username: None,
            ip: client.ip_text(),
            detail: None,
        }
    }

    pub fn user(mut self, user: &User) -> Self {
        self.user_id = Some(user.id);
        self.username = Some(user.username.clone());
        self
    }

    /// A username as typed (failed logins of unknown accounts).
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.chars().take(64).collect());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Stores and logs an event. A store failure is logged, not passed on: the request it
/// describes has already happened.
pub async fn record(state: &AppState, event: AuditEvent) {
    tracing::info!(
        target: "audit",
        kind = %event.kind,
        user_id = event.user_id,
        username = event.username.as_deref(),
        ip = event.ip.as_deref(),
        detail = event.detail.as_deref(),
        "security event"
    );
    if let Err(e) = state.stores.audit.record(&event).await {
        tracing::error!(error = %e, kind = %event.kind, "could not store an audit event");
    }
}
