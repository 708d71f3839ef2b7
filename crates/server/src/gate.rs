//! Gates: checks that answer a request before any route runs, or let it through.
//!
//! The load limit, the browser guard and a read node's refusal of writes each decide from the
//! request alone, at once. As tower services of their own they cost a request nothing past the
//! check: no boxed future and no boxed copy of the routes behind them, as a middleware written
//! as an `async fn` has.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use tower::{Layer, Service};

use crate::error::ApiError;

/// A check made before the routes: it refuses a request with an answer, or lets it through
/// holding a [`Gate::Pass`] until its response is made (a place among the requests in flight).
pub(crate) trait Gate: Clone + Send + Sync + 'static {
    /// What a request let through holds while it runs.
    type Pass: Send + 'static;

    /// The refusal of `request`, or its pass.
    fn check(&self, request: &Request) -> Result<Self::Pass, ApiError>;
}

/// Layers a [`Gate`] in front of a service.
#[derive(Clone, Debug)]
pub(crate) struct GateLayer<G>(pub(crate) G);

impl<G: Clone, S> Layer<S> for GateLayer<G> {
    type Service = Gated<G, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            gate: self.0.clone(),
            inner,
        }
    }
}

/// A service behind a [`Gate`].
#[derive(Clone, Debug)]
pub(crate) struct Gated<G, S> {
    gate: G,
    inner: S,
}

impl<G, S> Service<Request> for Gated<G, S>
where
    G: Gate,
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, Holding<S::Future, G::Pass>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.gate.check(&request) {
            Ok(pass) => Either::Right(Holding {
                response: self.inner.call(request),
                _pass: pass,
            }),
            Err(refusal) => Either::Left(ready(Ok(refusal.into_response()))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of a request let through, with the pass it holds until then.
    pub(crate) struct Holding<F, P> {
        #[pin]
        response: F,
        _pass: P,
    }
}

impl<F: Future, P> Future for Holding<F, P> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().response.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    /// Lets through requests to `/open`, counting the passes alive.
    #[derive(Clone, Default)]
    struct OpenOnly(Arc<AtomicUsize>);

    struct Pass(Arc<AtomicUsize>);

    impl Drop for Pass {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Gate for OpenOnly {
        type Pass = Pass;

        fn check(&self, request: &Request) -> Result<Pass, ApiError> {
            if request.uri().path() != "/open" {
                return Err(ApiError::MethodNotAllowed);
            }
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Pass(Arc::clone(&self.0)))
        }
    }

    fn request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("a request")
    }

    #[tokio::test]
    async fn a_gate_refuses_or_holds_its_pass_until_the_response_is_made() {
        let gate = OpenOnly::default();
        let alive = Arc::clone(&gate.0);
        let seen = Arc::clone(&gate.0);
        let inner = tower::service_fn(move |_: Request| {
            let during = seen.load(Ordering::SeqCst);
            async move { Ok::<_, Infallible>(format!("{during}").into_response()) }
        });
        let service = GateLayer(gate).layer(inner);

        let refused = service
            .clone()
            .oneshot(request("/closed"))
            .await
            .expect("an answer");
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);

        let answered = service.oneshot(request("/open")).await.expect("an answer");
        assert_eq!(answered.status(), StatusCode::OK);
        let body = axum::body::to_bytes(answered.into_body(), 64)
            .await
            .expect("a body");
        assert_eq!(&body[..], b"1", "the pass is held while the route runs");
        assert_eq!(alive.load(Ordering::SeqCst), 0, "and dropped after");
    }
}
