//! Prometheus metrics (OpenMetrics text at `GET /metrics`): request latency by route and
//! status, logins by outcome, CSRF and CORS refusals by reason, live sessions, and the memory
//! the password-hashing workers hold.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::Method;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Route,
    status: u16,
}

/// The route template a request matched (never the raw URI, which could carry anything), held
/// as axum's shared string so that recording a request allocates nothing.
#[derive(Clone, Debug)]
pub struct Route(Option<MatchedPath>);

impl Route {
    pub fn new(matched: Option<MatchedPath>) -> Self {
        Self(matched)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(self.as_str())
    }
}

/// The method as a label: the standard ones by name, anything else as one `other` (a client
/// must not be able to add label values).
fn method_label(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: HistogramFamily,
    logins: Family<OutcomeLabels, Counter>,
    refusals: Family<ReasonLabels, Counter>,
    sessions: Gauge<i64, std::sync::atomic::AtomicI64>,
    hash_memory_allocations: Counter,
    hash_memory_bytes: Gauge<i64, std::sync::atomic::AtomicI64>,
    mails: Family<MailLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    kind: &'static str,
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let logins = Family::<OutcomeLabels, Counter>::default();
        let refusals = Family::<ReasonLabels, Counter>::default();
        let sessions = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let hash_memory_allocations = Counter::default();
        let hash_memory_bytes = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let mails = Family::<MailLabels, Counter>::default();
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by method, route and status, with their latency",
            requests.clone(),
        );
        registry.register("logins", "Login attempts by outcome", logins.clone());
        registry.register(
            "security_refusals",
            "Requests refused by the CSRF or CORS rules, by reason (error code)",
            refusals.clone(),
        );
        registry.register(
            "active_sessions",
            "Stored sessions not past their absolute expiry",
            sessions.clone(),
        );
        registry.register(
            "password_hash_memory_allocations",
            "Argon2 memory areas the hashing workers allocated (one per worker per flood)",
            hash_memory_allocations.clone(),
        );
        registry.register(
            "password_hash_memory_bytes",
            "Argon2 memory the hashing workers hold now (released after 2 s idle)",
            hash_memory_bytes.clone(),
        );
        registry.register(
            "mails",
            "Mails by kind and outcome: sent, retried (one per failed attempt that will be tried again), failed (retries spent), dropped (queue full)",
            mails.clone(),
        );
        Self {
            registry,
            requests,
            logins,
            refusals,
            sessions,
            hash_memory_allocations,
            hash_memory_bytes,
            mails,
        }
    }
}

impl Metrics {
    pub fn request(&self, method: &Method, route: Route, status: u16, latency: Duration) {
        let labels = RequestLabels {
            method: method_label(method),
            route,
            status,
        };
        self.requests
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
    }

    pub fn login(&self, success: bool) {
        let outcome = if success { "success" } else { "failure" };
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn refusal(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// A hashing worker allocated its memory area of `bytes`.
    pub fn hash_memory_allocated(&self, bytes: u64) {
        self.hash_memory_allocations.inc();
        self.hash_memory_bytes
            .inc_by(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// A hashing worker released its memory area of `bytes`.
    pub fn hash_memory_released(&self, bytes: u64) {
        self.hash_memory_bytes
            .dec_by(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// One mail of `kind` reached `outcome` (sent, retried, failed, dropped).
    pub fn mail(&self, kind: &'static str, outcome: &'static str) {
        self.mails
            .get_or_create(&MailLabels { kind, outcome })
            .inc();
    }

    /// The text exposition, with the live-session gauge set to `active_sessions`.
    pub fn render(&self, active_sessions: u64) -> String {
        self.sessions
            .set(i64::try_from(active_sessions).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
