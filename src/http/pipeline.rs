//! The request pipeline as hand-written tower layers, one boxed future each.
//!
//! axum's `from_fn` middleware boxes the rest of the stack and its future again on every
//! request; these layers hold the next service as its own type instead. A [`Stage`] is one
//! step written as an async function of the request and [`Next`]. The steps themselves only
//! call into the modules that own each rule (`log`, `cors`, `session`, `csrf`, `auth`), so a
//! rule stays where DESIGN.md §6 puts it.
//!
//! Two stages carry the pipeline: [`Edge`] on every route (request id and log line, CORS, the
//! security headers) and [`SessionGate`] on the API routes with sessions (resolve the cookies,
//! CSRF, write the cookies back).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

use crate::cors::Cors;
use crate::csrf::CsrfGuard;
use crate::http::log::RequestLog;
use crate::session::SessionManager;

/// The rest of the stack after a stage, called at most once.
pub struct Next<S>(S);

impl<S> Next<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    pub async fn run(self, request: Request) -> Response {
        match self.0.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// One step of the pipeline: what it does before and after the rest of the stack.
pub trait Stage: Clone + Send + Sync + 'static {
    fn run<S>(self, request: Request, next: Next<S>) -> impl Future<Output = Response> + Send
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send;
}

/// A [`Stage`] as a tower layer (for `Router::layer`).
#[derive(Clone)]
pub struct StageLayer<T>(pub T);

impl<T: Stage, S> Layer<S> for StageLayer<T> {
    type Service = Staged<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Staged {
            stage: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Staged<T, S> {
    stage: T,
    inner: S,
}

impl<T, S> Service<Request> for Staged<T, S>
where
    T: Stage,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service polled ready goes on with this request; its clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let stage = self.stage.clone();
        // The stage's future is made inside the box, on its first poll: made here, its few
        // kilobytes would be copied into the box.
        Box::pin(async move { Ok(stage.run(request, Next(inner)).await) })
    }
}

/// Every route: the request id, log line and metrics sample (`log`), then CORS (`cors`), then
/// the security headers (`http::security_headers`) on whatever answers.
#[derive(Clone)]
pub struct Edge(Arc<EdgeParts>);

struct EdgeParts {
    log: Arc<RequestLog>,
    cors: Arc<Cors>,
    hsts: Option<HeaderValue>,
}

impl Edge {
    pub fn new(log: Arc<RequestLog>, cors: Arc<Cors>, hsts: Option<HeaderValue>) -> Self {
        Self(Arc::new(EdgeParts { log, cors, hsts }))
    }
}

impl Stage for Edge {
    async fn run<S>(self, request: Request, next: Next<S>) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        let parts = &*self.0;
        let entry = parts.log.begin(&request);
        let span = entry.span().clone();
        let mut response = async {
            let (answer, grant) = parts.cors.admit(&request);
            let mut response = match answer {
                Some(preflight) => preflight,
                None => next.run(request).await,
            };
            let headers = response.headers_mut();
            // Room for what the edge adds, so the map grows at most once (`Json` answers
            // come with the room already).
            headers.reserve(super::EDGE_HEADERS);
            parts.cors.decorate(&grant, headers);
            super::security_headers(headers, parts.hsts.as_ref());
            response
        }
        .instrument(span)
        .await;
        parts.log.end(entry, &mut response);
        response
    }
}

/// The API routes with sessions: resolve the cookies into a `SessionContext` (`session`), refuse
/// unsafe requests that fail the CSRF rules (`csrf`), then write the cookies the answer asks
/// for (the session manager is the only writer of `Set-Cookie`).
#[derive(Clone)]
pub struct SessionGate(Arc<(Arc<SessionManager>, Arc<CsrfGuard>)>);

impl SessionGate {
    pub fn new(sessions: Arc<SessionManager>, csrf: Arc<CsrfGuard>) -> Self {
        Self(Arc::new((sessions, csrf)))
    }
}

impl Stage for SessionGate {
    async fn run<S>(self, mut request: Request, next: Next<S>) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        let (sessions, csrf) = &*self.0;
        let (context, refreshed) = match sessions.resolve(request.headers()).await {
            Ok(resolved) => resolved,
            Err(e) => return e.into_response(),
        };
        let refusal = csrf.check_request(&request, &context);
        let response = match refusal {
            Some(refused) => refused.await,
            None => {
                request.extensions_mut().insert(context);
                next.run(request).await
            }
        };
        sessions.write_cookies(response, refreshed)
    }
}
