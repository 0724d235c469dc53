//! Runs a request's DataLoader batches inside the request's own task.
//!
//! With batches spawned on the runtime, a batch starts on the other worker thread while the
//! request is still registering keys, and a list of a few thousand items is split across
//! many batches, by timing. Here a batch runs only once the request is idle: it returned
//! `Pending` without waking itself (a big list yields every 32 items and wakes itself at once;
//! that is not idle). By then every sibling resolver has asked for its key: one batch per
//! relation and level, whatever the machine's speed, and no waiting window.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::{ArcWake, AtomicWaker, waker_ref};

#[derive(Clone, Default)]
pub struct BatchQueue {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    batches: Mutex<FuturesUnordered<BoxFuture<'static, ()>>>,
    waker: AtomicWaker,
}

impl BatchQueue {
    /// The spawner to give the request's DataLoaders.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let inner = self.inner.clone();
        move |batch| {
            inner.batches.lock().expect("batch queue lock").push(batch);
            inner.waker.wake();
        }
    }

    /// Drives `work` and, whenever it is idle, the batches it queued.
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> T {
        let mut work = pin!(work);
        let flag = Arc::new(WakeFlag::default());
        std::future::poll_fn(|cx| {
            flag.task.register(cx.waker());
            flag.woken.store(false, Ordering::SeqCst);
            let waker = waker_ref(&flag);
            if let Poll::Ready(out) = work.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(out);
            }
            if flag.woken.load(Ordering::SeqCst) {
                // The work has more to do at once; its keys are not all in yet.
                return Poll::Pending;
            }
            self.inner.waker.register(cx.waker());
            // A finished batch completes its waiters' channels, which wakes this task again.
            let mut batches = self.inner.batches.lock().expect("batch queue lock");
            while let Poll::Ready(Some(())) = batches.poll_next_unpin(cx) {}
            Poll::Pending
        })
        .await
    }
}

/// The waker `work` sees: it records that the work was woken and wakes the task.
#[derive(Default)]
struct WakeFlag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl ArcWake for WakeFlag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.woken.store(true, Ordering::SeqCst);
        arc_self.task.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_batches_run_and_work_completes() {
        let queue = BatchQueue::default();
        let spawn = queue.spawner();
        let ran = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let counter = ran.clone();
        spawn(Box::pin(async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(42);
        }));
        assert_eq!(queue.run(rx).await.unwrap(), 42);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
