//! A tower layer around the LSP service: a panic in any handler becomes an error
//! response for that request (notifications are logged) and the server keeps serving;
//! `warden/*` requests with absent or `null` params are treated as `{}` so that every
//! warden request takes an object, whatever the client library sends for "no params";
//! and `exit` fires [`Guarded::exited`], because tower-lsp-server's `serve` would
//! otherwise wait for every pending handler (one may be waiting on the departed client).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt;
use serde_json::Value;
use tower::Service;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Request, Response};

pub struct Guarded<S> {
    inner: S,
    exited: std::sync::Arc<tokio::sync::Notify>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S) -> Self {
        Guarded {
            inner,
            exited: Default::default(),
        }
    }

    /// Notified once the `exit` notification has been handled.
    pub fn exited(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.exited.clone()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Option<Response>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let req = normalize(req);
        let id = req.id().cloned();
        let method = req.method().to_owned();
        let exited = (method == "exit").then(|| self.exited.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let outcome = AssertUnwindSafe(fut).catch_unwind().await;
            if let Some(exited) = exited {
                exited.notify_one();
            }
            match outcome {
                Ok(result) => result,
                Err(payload) => {
                    let what = panic_message(payload.as_ref());
                    tracing::error!("handler for {method} panicked: {what}");
                    Ok(id.map(|id| {
                        Response::from_error(
                            id,
                            Error {
                                code: ErrorCode::InternalError,
                                message: format!(
                                    "warden hit an internal error while handling {method}: {what}. The server is still running; please report this with the log."
                                )
                                .into(),
                                data: None,
                            },
                        )
                    }))
                }
            }
        })
    }
}

fn normalize(req: Request) -> Request {
    if !req.method().starts_with("warden/") || !matches!(req.params(), None | Some(Value::Null)) {
        return req;
    }
    let (method, id, _) = req.into_parts();
    let builder = Request::build(method).params(Value::Object(Default::default()));
    match id {
        Some(id) => builder.id(id).finish(),
        None => builder.finish(),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;
    use tower_lsp_server::jsonrpc::Id;

    #[derive(Clone)]
    struct Echo;

    impl Service<Request> for Echo {
        type Response = Option<Response>;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<Result<Option<Response>, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request) -> Self::Future {
            Box::pin(async move {
                if req.method() == "boom" {
                    panic!("kaboom");
                }
                let params = req.params().cloned().unwrap_or(Value::Null);
                Ok(req.id().cloned().map(|id| Response::from_ok(id, params)))
            })
        }
    }

    #[tokio::test]
    async fn panics_become_error_responses() {
        let svc = Guarded::new(Echo);
        let req = Request::build("boom").id(7).finish();
        let res = svc.oneshot(req).await.unwrap().unwrap();
        assert_eq!(res.id(), &Id::Number(7));
        let err = res.error().unwrap();
        assert_eq!(err.code, ErrorCode::InternalError);
        assert!(err.message.contains("kaboom"));
    }

    #[tokio::test]
    async fn warden_requests_get_object_params() {
        let req = Request::build("warden/workspaces").id(1).finish();
        let res = Guarded::new(Echo).oneshot(req).await.unwrap().unwrap();
        assert_eq!(res.result(), Some(&serde_json::json!({})));
        let other = Request::build("shutdown").id(2).finish();
        let res = Guarded::new(Echo).oneshot(other).await.unwrap().unwrap();
        assert_eq!(res.result(), Some(&Value::Null));
    }
}
