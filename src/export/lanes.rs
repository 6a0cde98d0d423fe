//! Lanes: the windows of an export fetched and encoded concurrently, handed out in window order.
//!
//! Each lane walks one window's cursor chain (`fetch.rs`) and encodes its pages in its own task,
//! so fetching, encoding, compressing and storing overlap. `lanes` windows are fetched at once;
//! one that has fetched its last page makes room for the next window even before it is written.
//! Only the head window is written; the windows behind it run ahead into one shared budget of
//! encoded pages and wait when it is spent, so memory stays bounded whatever the window sizes.
//! Their buffered pages are not checkpointed: after a crash they are fetched again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::fetch::{ChainStart, PageStream};
use super::pipeline::{EncoderFactory, ExportError};
use super::stage_cpu::{self, Stage};
use crate::cc::{ContactsClient, ContactsPage, ContactsQuery};
use crate::encode::{EncodeError, Encoder, Rows, gzip_member};

/// One page, encoded (and compressed) and ready to store.
#[derive(Debug)]
pub struct Chunk {
    pub window: usize,
    pub bytes: Vec<u8>,
    pub rows: usize,
    pub next_cursor: Option<String>,
    /// The window's last page.
    pub last: bool,
    pub contacts_count: Option<u64>,
}

pub struct LaneConfig {
    pub client: Arc<ContactsClient>,
    pub encoders: EncoderFactory,
    pub gzip: bool,
    /// Windows fetched at once, the head included.
    pub lanes: usize,
    /// Encoded pages the windows behind the head may hold, all together (0 with one lane).
    pub budget: usize,
}

/// Encoded pages a lane hands over ahead of the writer beyond its budget.
const HEAD_DEPTH: usize = 2;

pub struct Lanes {
    cfg: LaneConfig,
    windows: Vec<ContactsQuery>,
    next_window: usize,
    /// Windows started and not yet written to the end, in window order.
    active: VecDeque<Lane>,
    shared: Arc<Shared>,
}

/// What the lane tasks and the writer share.
struct Shared {
    /// The window being written: its lane needs no budget.
    head: AtomicUsize,
    head_moved: Notify,
    /// Lanes still fetching; a finished one makes room for the next window.
    fetching: AtomicUsize,
    fetch_done: Notify,
    budget: Arc<Semaphore>,
}

type Item = Result<(Chunk, Option<OwnedSemaphorePermit>), ExportError>;

struct Lane {
    rx: mpsc::Receiver<Item>,
    task: JoinHandle<()>,
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Lanes {
    /// Starts the head lane (`head` window from `start`) and the lanes behind it. `header`: the
    /// head's first chunk begins with the output's header.
    pub fn start(
        cfg: LaneConfig,
        windows: Vec<ContactsQuery>,
        head: usize,
        start: ChainStart,
        header: bool,
    ) -> Self {
        let shared = Arc::new(Shared {
            head: AtomicUsize::new(head),
            head_moved: Notify::new(),
            fetching: AtomicUsize::new(0),
            fetch_done: Notify::new(),
            budget: Arc::new(Semaphore::new(cfg.budget.max(1))),
        });
        let mut lanes = Self {
            cfg,
            windows,
            next_window: head + 1,
            active: VecDeque::new(),
            shared,
        };
        lanes.spawn(head, start, header);
        lanes.fill();
        lanes
    }

    /// The head lane's next chunk; `None` once every window is handed out, or when a lane
    /// stopped without its last page (a bug or a panic: the caller must not finish).
    pub async fn next(&mut self) -> Option<Result<Chunk, ExportError>> {
        loop {
            let front = self.active.front_mut()?;
            tokio::select! {
                biased;
                item = front.rx.recv() => {
                    let item = item?;
                    if let Ok((chunk, _)) = &item
                        && chunk.last
                    {
                        self.active.pop_front();
                        self.shared.head.store(chunk.window + 1, Ordering::SeqCst);
                        self.shared.head_moved.notify_waiters();
                        self.fill();
                    }
                    // The permit goes with the chunk's hand-over: the writer holds one page.
                    return Some(item.map(|(chunk, _permit)| chunk));
                }
                () = self.shared.fetch_done.notified() => self.fill(),
            }
        }
    }

    fn fill(&mut self) {
        while self.shared.fetching.load(Ordering::SeqCst) < self.cfg.lanes.max(1)
            && self.next_window < self.windows.len()
        {
            let w = self.next_window;
            self.next_window += 1;
            self.spawn(w, ChainStart::First(self.windows[w].clone()), false);
        }
    }

    fn spawn(&mut self, window: usize, start: ChainStart, header: bool) {
        let (tx, rx) = mpsc::channel(self.cfg.budget + HEAD_DEPTH);
        let mut encoder = (self.cfg.encoders)();
        let gzip = self.cfg.gzip;
        let shared = self.shared.clone();
        shared.fetching.fetch_add(1, Ordering::SeqCst);
        let mut pages = PageStream::spawn(self.cfg.client.clone(), start, encoder.reader());
        let task = tokio::spawn(async move {
            let mut header = header;
            while let Some(page) = pages.next().await {
                let chunk = page.map_err(ExportError::from).and_then(|page| {
                    stage_cpu::timed(Stage::Encode, || {
                        encode_chunk(page, window, &mut *encoder, gzip, &mut header)
                    })
                });
                let stop = !matches!(&chunk, Ok(c) if !c.last);
                if stop {
                    // Fetching is over: the next window may start while this one waits.
                    shared.fetching.fetch_sub(1, Ordering::SeqCst);
                    shared.fetch_done.notify_one();
                }
                let permit = match &chunk {
                    Ok(_) => room_for(&shared, window).await,
                    Err(_) => None,
                };
                if tx.send(chunk.map(|c| (c, permit))).await.is_err() || stop {
                    return;
                }
            }
            shared.fetching.fetch_sub(1, Ordering::SeqCst);
            shared.fetch_done.notify_one();
        });
        self.active.push_back(Lane { rx, task });
    }
}

/// Waits until a chunk of `window` may be buffered: the head's lane needs nothing (the writer
/// drains it), the others take a page of the shared budget, or wait until they are head.
async fn room_for(shared: &Shared, window: usize) -> Option<OwnedSemaphorePermit> {
    loop {
        let moved = shared.head_moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        if shared.head.load(Ordering::SeqCst) == window {
            return None;
        }
        tokio::select! {
            permit = shared.budget.clone().acquire_owned() => return permit.ok(),
            () = &mut moved => continue,
        }
    }
}

/// One page through the encoder (and a gzip member when asked): what a lane does to each page
/// it fetched. `header`: write the output's header first, then clear it.
pub fn encode_chunk(
    page: ContactsPage<Rows>,
    window: usize,
    encoder: &mut dyn Encoder,
    gzip: bool,
    header: &mut bool,
) -> Result<Chunk, ExportError> {
    let (plain, rows) = match page.contacts {
        // Rows the encoder's reader already wrote are the output as they are: moved, not copied.
        Rows::Encoded(encoded) if !*header => (encoded.bytes, encoded.count),
        contacts => {
            let mut plain = Vec::with_capacity(contacts.output_hint() + 4096);
            if std::mem::take(header) {
                encoder.header(&mut plain);
            }
            let rows = encoder.encode_rows(&contacts, &mut plain)?;
            (plain, rows)
        }
    };
    let bytes = if gzip {
        let mut packed = Vec::with_capacity(plain.len() / 4);
        gzip_member(&plain, &mut packed).map_err(|e| ExportError::Encode(EncodeError::Io(e)))?;
        packed
    } else {
        plain
    };
    Ok(Chunk {
        window,
        bytes,
        rows,
        // A last page whose link is absent but whose cursor was set would loop; trust the link.
        last: page.next_href.is_none(),
        next_cursor: page.next_cursor.filter(|_| page.next_href.is_some()),
        contacts_count: page.contacts_count,
    })
}
