//! A tower layer around the LSP service: a panic in any handler becomes an error
//! response for that request (notifications are logged) and the server keeps serving;
//! `warden/*` requests with absent or `null` params are treated as `{}` so that every
//! warden request takes an object, whatever the client library sends for "no params";
//! a request the library leaves unanswered (it drops the MethodNotFound of every `$/`
//! method, right for notifications only) is answered MethodNotFound; and [`Session`]
//! records what ends the process: `exit` (tower-lsp-server's `serve` would otherwise wait
//! for every pending handler, and one may be waiting on the departed client), whether a
//! `shutdown` succeeded before (exit code 0, else 1, as the LSP specification says), and
//! the `processId` that `initialize` named (the editor, whose death ends the server).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::FutureExt;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tower::Service;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Request, Response};

/// What the serving loop learns from the messages that pass.
#[derive(Debug)]
pub struct Session {
    exited: Notify,
    shut_down: AtomicBool,
    parent: watch::Sender<Option<u32>>,
}

impl Session {
    /// Resolves once the `exit` notification has been handled.
    pub async fn exited(&self) {
        self.exited.notified().await
    }

    /// Whether a `shutdown` request succeeded.
    pub fn shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// The `processId` of the first `initialize`, once it arrives (`None` before, and
    /// for ever when it was `null`).
    pub fn parent(&self) -> watch::Receiver<Option<u32>> {
        self.parent.subscribe()
    }
}

pub struct Guarded<S> {
    inner: S,
    session: Arc<Session>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S) -> Self {
        Guarded {
            inner,
            session: Arc::new(Session {
                exited: Notify::new(),
                shut_down: AtomicBool::new(false),
                parent: watch::Sender::new(None),
            }),
        }
    }

    pub fn session(&self) -> Arc<Session> {
        self.session.clone()
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
        if method == "initialize" {
            let pid = req
                .params()
                .and_then(|p| p.get("processId"))
                .and_then(Value::as_u64)
                .and_then(|p| u32::try_from(p).ok())
                .filter(|&p| p > 0);
            if let Some(pid) = pid {
                self.session.parent.send_if_modified(|slot| {
                    let first = slot.is_none();
                    slot.get_or_insert(pid);
                    first
                });
            }
        }
        let session = self.session.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let outcome = AssertUnwindSafe(fut).catch_unwind().await;
            match method.as_str() {
                "exit" => session.exited.notify_one(),
                "shutdown" if matches!(&outcome, Ok(Ok(Some(r))) if r.is_ok()) => {
                    session.shut_down.store(true, Ordering::SeqCst)
                }
                _ => {}
            }
            match outcome {
                // A request must be answered; the library answers none for `$/` methods.
                Ok(Ok(None)) if method != "exit" && id.is_some() => {
                    let mut error = Error::method_not_found();
                    error.data = Some(Value::String(method));
                    Ok(id.map(|id| Response::from_error(id, error)))
                }
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
                // As tower-lsp-server does for every `$/` method it does not know.
                if req.method().starts_with("$/") {
                    return Ok(None);
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

    #[tokio::test]
    async fn dollar_requests_are_answered_method_not_found() {
        let req = Request::build("$/foo").id(3).finish();
        let res = Guarded::new(Echo).oneshot(req).await.unwrap().unwrap();
        assert_eq!(res.id(), &Id::Number(3));
        assert_eq!(res.error().unwrap().code, ErrorCode::MethodNotFound);
        // A `$/` notification still gets no answer.
        let note = Request::build("$/foo").finish();
        assert!(Guarded::new(Echo).oneshot(note).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_session_records_shutdown_exit_and_the_parent_process() {
        let mut svc = Guarded::new(Echo);
        let session = svc.session();
        let parent = session.parent();
        let init = Request::build("initialize")
            .id(1)
            .params(serde_json::json!({"processId": 4242, "capabilities": {}}))
            .finish();
        svc.call(init).await.unwrap();
        assert_eq!(*parent.borrow(), Some(4242));
        assert!(!session.shut_down());
        svc.call(Request::build("shutdown").id(2).finish())
            .await
            .unwrap();
        assert!(session.shut_down());
        svc.call(Request::build("exit").finish()).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), session.exited())
            .await
            .expect("exit is reported");
    }
}
