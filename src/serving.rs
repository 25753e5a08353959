//! The running half of a simulator (mock ARM, mock-kube): the stop signal every listener and open
//! stream watches, and the task serving them. Dropping it stops the server at once; `shutdown`
//! stops it and waits.

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) struct Serving {
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    pub(crate) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signal the stop and wait for the task to end.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
