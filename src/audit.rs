//! The audit trail: every security event is stored (`audit_events`) and logged as one
//! structured line (target `audit`). Passwords, tokens and session secrets never appear in it
//! (OWASP Logging cheat sheet, "Data to exclude"; ASVS 5.0 V16.2).

use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::records::User;
use crate::clock::Clock;
use crate::peer::Peer;
use crate::store::{AuditEvent, AuditStore, StoreResult};

/// Writes and reads the trail; the substate of everything that records events.
#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
}

impl Audit {
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// A new event of `kind`, now, from `peer`.
    pub fn event(&self, kind: &str, peer: &Peer) -> AuditEvent {
        AuditEvent {
            at: self.clock.now(),
            kind: kind.to_owned(),
            user_id: None,
            username: None,
            ip: peer.ip_text(),
            detail: None,
        }
    }

    /// Stores and logs an event. A store failure is logged, not passed on: the request it
    /// describes has already happened.
    pub async fn record(&self, event: AuditEvent) {
        tracing::info!(
            target: "audit",
            kind = %event.kind,
            user_id = event.user_id,
            username = event.username.as_deref(),
            ip = event.ip.as_deref(),
            detail = event.detail.as_deref(),
            "security event"
        );
        if let Err(e) = self.store.record(&event).await {
            tracing::error!(error = %e, kind = %event.kind, "could not store an audit event");
        }
    }

    /// Newest last; `username` matches ignoring case.
    pub async fn list(
        &self,
        username: Option<&str>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        self.store.list(username, since, limit).await
    }
}

impl AuditEvent {
    pub fn user(mut self, user: &User) -> Self {
        self.user_id = Some(user.id);
        self.username = Some(user.username.as_str().to_owned());
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
