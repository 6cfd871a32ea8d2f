//! Bounded crossbeam channels between stages, with the backpressure policy of
//! the mode and their own instrumentation (queue length, time blocked).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use crate::accounting::{DropReason, Ledger};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backpressure {
    /// Senders wait for room: nothing is dropped (replay).
    Lossless,
    /// A full queue drops its oldest item, counted as `queue_full` (live).
    Latest,
}

/// How many input frames an item carries (so a dropped item is counted right).
pub trait FrameCount {
    fn frames(&self) -> u64;

    /// The runtime calls this as the item enters a stage, for per-stage
    /// latency of frame sets.
    fn entered_stage(&mut self, _stage: &'static str, _at: Instant) {}
}

/// Counters of one edge.
#[derive(Debug, Default)]
pub struct EdgeStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub max_queue: AtomicU64,
    pub queue_sum: AtomicU64,
    pub blocked_ns: AtomicU64,
    /// Queue length after the latest send.
    pub last_queue: AtomicU64,
}

/// A snapshot of an edge's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeReport {
    pub name: String,
    pub capacity: usize,
    pub sent: u64,
    pub dropped_queue_full: u64,
    pub max_queue: u64,
    pub mean_queue: f64,
    pub blocked_ms: f64,
}

pub struct EdgeSender<T> {
    name: Arc<str>,
    sender: Sender<T>,
    /// Kept only under `Latest`, to take the oldest item out of a full queue.
    oldest: Option<Receiver<T>>,
    stats: Arc<EdgeStats>,
    ledger: Arc<Ledger>,
}

pub struct EdgeReceiver<T> {
    receiver: Receiver<T>,
}

/// The sending side is gone and the queue is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnected;

/// Makes an edge of `capacity` items.
pub fn edge<T: FrameCount>(
    name: &str,
    capacity: usize,
    policy: Backpressure,
    ledger: Arc<Ledger>,
) -> (EdgeSender<T>, EdgeReceiver<T>, EdgeHandle) {
    let (sender, receiver) = channel::bounded(capacity.max(1));
    let stats = Arc::new(EdgeStats::default());
    let oldest = (policy == Backpressure::Latest).then(|| receiver.clone());
    let name: Arc<str> = Arc::from(name);
    (
        EdgeSender {
            name: name.clone(),
            sender,
            oldest,
            stats: stats.clone(),
            ledger,
        },
        EdgeReceiver { receiver },
        EdgeHandle {
            name,
            capacity: capacity.max(1),
            stats,
        },
    )
}

/// Read access to an edge's statistics for the report.
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    name: Arc<str>,
    capacity: usize,
    stats: Arc<EdgeStats>,
}

impl EdgeHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared (for progress reports every frame set).
    pub fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Items queued after the latest send.
    pub fn queue_len(&self) -> u64 {
        self.stats.last_queue.load(Ordering::Relaxed)
    }

    pub fn report(&self) -> EdgeReport {
        let sent = self.stats.sent.load(Ordering::Relaxed);
        EdgeReport {
            name: self.name.to_string(),
            capacity: self.capacity,
            sent,
            dropped_queue_full: self.stats.dropped.load(Ordering::Relaxed),
            max_queue: self.stats.max_queue.load(Ordering::Relaxed),
            mean_queue: if sent == 0 {
                0.0
            } else {
                self.stats.queue_sum.load(Ordering::Relaxed) as f64 / sent as f64
            },
            blocked_ms: self.stats.blocked_ns.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

impl<T: FrameCount> EdgeSender<T> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends under the edge's policy. `Err(item)` when the receiving stage is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        let mut item = item;
        match &self.oldest {
            None => match self.sender.try_send(item) {
                Ok(()) => {}
                Err(TrySendError::Disconnected(back)) => return Err(back),
                Err(TrySendError::Full(back)) => {
                    let started = Instant::now();
                    let result = self.sender.send(back).map_err(|e| e.into_inner());
                    self.stats
                        .blocked_ns
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    result?;
                }
            },
            Some(oldest) => loop {
                match self.sender.try_send(item) {
                    Ok(()) => break,
                    Err(TrySendError::Disconnected(back)) => return Err(back),
                    Err(TrySendError::Full(back)) => {
                        item = back;
                        if let Ok(dropped) = oldest.try_recv() {
                            self.ledger.dropped(DropReason::QueueFull, dropped.frames());
                            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            },
        }
        let queued = self.sender.len() as u64;
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.stats.queue_sum.fetch_add(queued, Ordering::Relaxed);
        self.stats.max_queue.fetch_max(queued, Ordering::Relaxed);
        self.stats.last_queue.store(queued, Ordering::Relaxed);
        Ok(())
    }
}

impl<T> EdgeReceiver<T> {
    /// The next item; `Err` when the sender is gone and the queue is empty.
    pub fn recv(&self) -> Result<T, Disconnected> {
        self.receiver.recv().map_err(|_| Disconnected)
    }

    /// The next item within `timeout`: `Ok(None)` on timeout.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>, Disconnected> {
        match self.receiver.recv_timeout(timeout) {
            Ok(item) => Ok(Some(item)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Disconnected),
        }
    }

    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// Everything still queued (after a stop), for accounting.
    pub fn drain(&self) -> Vec<T> {
        self.receiver.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test item: one frame with a number.
    #[derive(Debug)]
    struct Item(u64);

    impl FrameCount for Item {
        fn frames(&self) -> u64 {
            1
        }
    }

    #[test]
    fn lossless_senders_wait_for_room_and_nothing_is_dropped() {
        let ledger = Arc::new(Ledger::default());
        let (tx, rx, handle) = edge::<Item>("a->b", 2, Backpressure::Lossless, ledger.clone());
        let producer = std::thread::spawn(move || {
            for t in 0..10 {
                tx.send(Item(t)).map_err(|_| ()).unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(rx.len(), 2, "the producer waits on a full queue");
        let received: Vec<u64> = std::iter::from_fn(|| rx.recv().ok()).map(|i| i.0).collect();
        producer.join().unwrap();
        assert_eq!(received, (0..10).collect::<Vec<_>>());
        let report = handle.report();
        assert_eq!((report.sent, report.dropped_queue_full), (10, 0));
        assert!(report.blocked_ms > 10.0, "{report:?}");
        assert_eq!(report.max_queue, 2);
        assert_eq!(ledger.counts().dropped_total(), 0);
    }

    #[test]
    fn latest_drops_the_oldest_item_of_a_full_queue_and_counts_it() {
        let ledger = Arc::new(Ledger::default());
        let (tx, rx, handle) = edge::<Item>("a->b", 2, Backpressure::Latest, ledger.clone());
        for t in 0..5 {
            tx.send(Item(t)).map_err(|_| ()).unwrap();
        }
        let kept: Vec<u64> = rx.drain().into_iter().map(|i| i.0).collect();
        assert_eq!(kept, [3, 4], "the newest survive");
        assert_eq!(ledger.counts().dropped(DropReason::QueueFull), 3);
        assert_eq!(handle.report().dropped_queue_full, 3);
    }
}
