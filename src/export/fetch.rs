//! The fetch side of the pipeline: walks one cursor chain and hands pages over a bounded
//! channel, so the next request is in flight while the current page is encoded and stored.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::stage_cpu::{Stage, timed};
use crate::cc::{CcError, ContactsClient, ContactsPage, ContactsQuery, ReadRows};

/// Where a chain begins.
#[derive(Debug, Clone)]
pub enum ChainStart {
    First(ContactsQuery),
    Cursor(String),
}

/// Pages in flight at most: one being stored, one waiting, one being fetched.
const DEPTH: usize = 2;

/// A running fetch task; dropping it stops the task.
pub struct PageStream<R> {
    rx: mpsc::Receiver<Result<ContactsPage<R>, CcError>>,
    task: JoinHandle<()>,
}

impl<R: Send + 'static> PageStream<R> {
    /// `read` turns each body into the rows the consumer encodes (one pass, in this task).
    pub fn spawn(client: Arc<ContactsClient>, start: ChainStart, read: ReadRows<R>) -> Self {
        let read: ReadRows<R> = Arc::new(move |body| timed(Stage::Read, || read(body)));
        let (tx, rx) = mpsc::channel(DEPTH);
        let task = tokio::spawn(async move {
            let mut page = match &start {
                ChainStart::First(q) => client.first_page_with(q, &*read).await,
                ChainStart::Cursor(c) => client.resume_with(c, &*read).await,
            };
            loop {
                let next = page.as_ref().ok().and_then(|p| p.next_href.clone());
                if tx.send(page).await.is_err() {
                    return; // the consumer is gone
                }
                match next {
                    Some(href) => page = client.next_page_with(&href, &*read).await,
                    None => return,
                }
            }
        });
        Self { rx, task }
    }

    /// The next page; `None` after the last page or after an error was handed out.
    pub async fn next(&mut self) -> Option<Result<ContactsPage<R>, CcError>> {
        self.rx.recv().await
    }
}

impl<R> Drop for PageStream<R> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
