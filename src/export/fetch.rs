//! The fetch side of the pipeline: walks one cursor chain and hands pages over a bounded
//! channel, so the next request is in flight while the current page is encoded and stored.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cc::{CcError, ContactsClient, ContactsPage, ContactsQuery};

/// Where a chain begins.
#[derive(Debug, Clone)]
pub enum ChainStart {
    First(ContactsQuery),
    Cursor(String),
}

/// Pages in flight at most: one being stored, one waiting, one being fetched.
const DEPTH: usize = 2;

/// A running fetch task; dropping it stops the task.
pub struct PageStream {
    rx: mpsc::Receiver<Result<ContactsPage, CcError>>,
    task: JoinHandle<()>,
}

impl PageStream {
    pub fn spawn(client: Arc<ContactsClient>, start: ChainStart) -> Self {
        let (tx, rx) = mpsc::channel(DEPTH);
        let task = tokio::spawn(async move {
            let mut page = match &start {
                ChainStart::First(q) => client.first_page(q).await,
                ChainStart::Cursor(c) => client.resume(c).await,
            };
            loop {
                let next = page.as_ref().ok().and_then(|p| p.next_href.clone());
                if tx.send(page).await.is_err() {
                    return; // the consumer is gone
                }
                match next {
                    Some(href) => page = client.next_page(&href).await,
                    None => return,
                }
            }
        });
        Self { rx, task }
    }

    /// The next page; `None` after the last page or after an error was handed out.
    pub async fn next(&mut self) -> Option<Result<ContactsPage, CcError>> {
        self.rx.recv().await
    }
}

impl Drop for PageStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
