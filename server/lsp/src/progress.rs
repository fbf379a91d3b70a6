//! Server-initiated work-done progress: `window/workDoneProgress/create` (only when the
//! client supports it), then `$/progress` begin/report/end. Cancellable progress
//! registers a token in [`crate::shared::Shared::tasks`]; the client's
//! `window/workDoneProgress/cancel` cancels it.

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressEnd, WorkDoneProgressReport,
};

pub struct Reporter {
    client: Client,
    token: Option<NumberOrString>,
}

impl Reporter {
    /// Creates and begins a progress (a no-op reporter when the client cannot show one).
    pub async fn begin(
        client: &Client,
        supported: bool,
        token: &str,
        title: &str,
        cancellable: bool,
    ) -> Reporter {
        let token = NumberOrString::String(token.to_owned());
        let token = if supported
            && client
                .create_work_done_progress(token.clone())
                .await
                .is_ok()
        {
            Some(token)
        } else {
            None
        };
        let r = Reporter {
            client: client.clone(),
            token,
        };
        r.send(WorkDoneProgress::Begin(WorkDoneProgressBegin {
            title: title.to_owned(),
            cancellable: Some(cancellable),
            message: None,
            percentage: Some(0),
        }))
        .await;
        r
    }

    pub async fn report(&self, message: String, percentage: u32) {
        self.send(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: None,
            message: Some(message),
            percentage: Some(percentage.min(100)),
        }))
        .await;
    }

    pub async fn end(self, message: String) {
        self.send(WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message),
        }))
        .await;
    }

    async fn send(&self, value: WorkDoneProgress) {
        if let Some(token) = &self.token {
            self.client
                .send_notification::<ProgressNotification>(ProgressParams {
                    token: token.clone(),
                    value: ProgressParamsValue::WorkDone(value),
                })
                .await;
        }
    }
}
