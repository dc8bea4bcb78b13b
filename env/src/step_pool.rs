//! `StepPool`: persistent worker threads that step disjoint blocks of a [`crate::VecEnv`].
//!
//! A batch step of 64 envs takes a few µs, less than a sleeping thread needs to wake
//! up, so a general-purpose pool (rayon) made two threads slower than one. Here the
//! calling thread steps block 0 while each worker steps its own block; workers spin for
//! a short while after a batch (the next batch usually comes within microseconds) and
//! then park, so they cost nothing while the caller does other work (a PPO update).
//!
//! Safety: the caller publishes raw pointers to its buffers, bumps an epoch, steps its
//! own block and waits until every worker has reported done before it returns; blocks
//! are disjoint, so no two threads touch the same element, and no pointer outlives the
//! `&mut` borrows of the call that published it.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// Spin iterations before a worker parks (a few tens of µs).
const SPIN_LIMIT: u32 = 20_000;

/// One batch: the items and the caller's context; valid only during [`StepPool::run`].
struct Job<T, C> {
    items: *mut T,
    n: usize,
    context: C,
}

// Manual impls: a derive would demand `T: Copy`, but only the pointer is copied.
impl<T, C: Copy> Clone for Job<T, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, C: Copy> Copy for Job<T, C> {}

struct Shared<T, C> {
    job: UnsafeCell<Option<Job<T, C>>>,
    /// Item ranges: block `b` is `bounds[b]..bounds[b + 1]`.
    bounds: Vec<usize>,
    epoch: AtomicU64,
    done: AtomicUsize,
    shutdown: AtomicBool,
    sleeping: Vec<AtomicBool>,
    failure: Mutex<Option<Failure>>,
    #[allow(clippy::type_complexity)]
    work: Box<dyn Fn(&mut [T], usize, C) -> Result<()> + Send + Sync>,
}

enum Failure {
    Error(Error),
    Panic(Box<dyn std::any::Any + Send>),
}

// SAFETY: `job` is written by the caller only while no worker reads it (between the
// done-wait of one batch and the epoch bump of the next) and read by workers only
// after the Acquire load of the bumped epoch; the items it points to are `Send` and
// each is touched by one thread per batch.
// The context `C` holds raw views of the caller's buffers with the same discipline.
// The context `C` (raw views of the caller's buffers, same discipline) goes to the
// workers by value, hence `C: Send`.
unsafe impl<T: Send, C: Copy + Send> Sync for Shared<T, C> {}
unsafe impl<T: Send, C: Copy + Send> Send for Shared<T, C> {}

/// Persistent workers over a fixed number of items split into `threads` blocks.
pub(crate) struct StepPool<T: Send + 'static, C: Copy + Send + 'static> {
    shared: Arc<Shared<T, C>>,
    workers: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static, C: Copy + Send + 'static> StepPool<T, C> {
    /// A pool for `n` items in `threads` contiguous blocks (block 0 runs on the caller);
    /// `work(block_items, first_index, context)` steps one block. The context carries
    /// raw views of per-call buffers; `work` must touch only the elements of its block.
    ///
    /// # Errors
    /// [`Error::Config`] if a thread cannot be spawned.
    pub fn new(
        n: usize,
        threads: usize,
        work: impl Fn(&mut [T], usize, C) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Self> {
        let threads = threads.clamp(1, n.max(1));
        let bounds: Vec<usize> = (0..=threads).map(|b| b * n / threads).collect();
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(None),
            bounds,
            epoch: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            sleeping: (0..threads).map(|_| AtomicBool::new(false)).collect(),
            failure: Mutex::new(None),
            work: Box::new(work),
        });
        // Built up in place so that a failed spawn drops the pool, which stops and joins
        // the workers already started.
        let mut pool = Self { shared, workers: Vec::with_capacity(threads - 1) };
        for block in 1..threads {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("vec-env-{block}"))
                .spawn(move || worker_loop(&shared, block))
                .map_err(|e| Error::Config {
                    field: "threads".into(),
                    message: format!("cannot spawn a thread: {e}"),
                })?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Runs `work` over every block of `items` (which must hold the `n` items the pool
    /// was made for), block 0 on this thread. Returns the first error; re-raises a
    /// worker's panic.
    ///
    /// # Errors
    /// The first error a block returned.
    pub fn run(&self, items: &mut [T], context: C) -> Result<()> {
        let shared = &*self.shared;
        let n = *shared.bounds.last().unwrap_or(&0);
        assert_eq!(items.len(), n, "StepPool::run with the wrong number of items");
        // Every block, block 0 included, is reached through this one pointer: `items`
        // itself is not touched again until the workers are done.
        let base = items.as_mut_ptr();
        // SAFETY: no worker reads `job` now: the previous batch ended with every
        // worker done, and the next read happens after the epoch bump below.
        unsafe { *shared.job.get() = Some(Job { items: base, n, context }) };
        shared.done.store(0, Ordering::Relaxed);
        shared.epoch.fetch_add(1, Ordering::SeqCst);
        for (block, handle) in self.workers.iter().enumerate() {
            if shared.sleeping[block + 1].load(Ordering::SeqCst) {
                handle.thread().unpark();
            }
        }
        // SAFETY: block 0 (`0..bounds[1]`) is disjoint from every worker's block.
        let own_items = unsafe { std::slice::from_raw_parts_mut(base, shared.bounds[1]) };
        let own = catch_unwind(AssertUnwindSafe(|| (shared.work)(own_items, 0, context)));
        let mut spins = 0u32;
        while shared.done.load(Ordering::Acquire) < self.workers.len() {
            spins += 1;
            if spins < SPIN_LIMIT {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: every worker is done; clear the pointer before `items` is released.
        unsafe { *shared.job.get() = None };
        let failure = shared.failure.lock().map(|mut f| f.take()).unwrap_or(None);
        match own {
            Err(panic) => resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => match failure {
                Some(Failure::Panic(panic)) => resume_unwind(panic),
                Some(Failure::Error(e)) => Err(e),
                None => Ok(()),
            },
        }
    }
}

fn worker_loop<T: Send, C: Copy + Send>(shared: &Shared<T, C>, block: usize) {
    let mut seen = 0u64;
    loop {
        // wait for a new epoch: spin, then park
        let mut spins = 0u32;
        loop {
            let epoch = shared.epoch.load(Ordering::Acquire);
            if epoch != seen {
                seen = epoch;
                break;
            }
            if spins < SPIN_LIMIT {
                spins += 1;
                std::hint::spin_loop();
            } else {
                shared.sleeping[block].store(true, Ordering::SeqCst);
                if shared.epoch.load(Ordering::SeqCst) == seen {
                    std::thread::park();
                }
                shared.sleeping[block].store(false, Ordering::SeqCst);
            }
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: the caller wrote `job` before the epoch bump we just acquired and
        // keeps the buffers alive until `done` counts us; our block is disjoint.
        let result = unsafe {
            (*shared.job.get()).map(|job| {
                let (start, end) = (shared.bounds[block], shared.bounds[block + 1]);
                debug_assert!(end <= job.n);
                let items = std::slice::from_raw_parts_mut(job.items.add(start), end - start);
                catch_unwind(AssertUnwindSafe(|| (shared.work)(items, start, job.context)))
            })
        };
        match result {
            Some(Ok(Err(e))) => record(shared, Failure::Error(e)),
            Some(Err(panic)) => record(shared, Failure::Panic(panic)),
            _ => {}
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}

fn record<T, C>(shared: &Shared<T, C>, failure: Failure) {
    if let Ok(mut slot) = shared.failure.lock() {
        slot.get_or_insert(failure);
    }
}

impl<T: Send + 'static, C: Copy + Send + 'static> Drop for StepPool<T, C> {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        for handle in &self.workers {
            handle.thread().unpark();
        }
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_processed_once_per_run() {
        let pool = StepPool::new(10, 3, |items: &mut [u64], first, (): ()| {
            for (i, x) in items.iter_mut().enumerate() {
                *x += (first + i) as u64;
            }
            Ok(())
        })
        .unwrap();
        let mut items = vec![0u64; 10];
        for _ in 0..1_000 {
            pool.run(&mut items, ()).unwrap();
        }
        assert_eq!(items, (0..10).map(|i| 1_000 * i).collect::<Vec<u64>>());
    }

    #[test]
    fn errors_and_panics_reach_the_caller() {
        let pool = StepPool::new(4, 2, |items: &mut [u8], first, (): ()| {
            if first > 0 && items[0] == 1 {
                return Err(Error::InvalidAction { action: 9, n_actions: 2 });
            }
            if first > 0 && items[0] == 2 {
                panic!("worker panic");
            }
            Ok(())
        })
        .unwrap();
        let mut items = vec![0u8, 0, 1, 0];
        assert!(matches!(pool.run(&mut items, ()), Err(Error::InvalidAction { action: 9, .. })));
        items[2] = 0;
        pool.run(&mut items, ()).unwrap();
        items[2] = 2;
        let caught = catch_unwind(AssertUnwindSafe(|| pool.run(&mut items, ())));
        assert!(caught.is_err());
        items[2] = 0;
        pool.run(&mut items, ()).unwrap();
    }
}
