//! Proof-of-trust mining: search a nonce whose header hash meets the miner's target.
//!
//! Data flow: [`crate::transition::build_block`] gives a header template (nonce 0) ->
//! [`mine`] (or a background [`MiningJob`]) finds a nonce -> [`crate::block::Block::seal`] signs
//! it. When a new head arrives the node cancels the job ([`MiningJob::cancel`], or the
//! `AtomicBool` given to [`mine`]) and starts over on the new parent.
//!
//! Work is split into chunks of [`CHUNK`] consecutive nonces handed out in increasing order to
//! crossbeam scoped worker threads; a worker that finds a solution records it with `fetch_min`
//! and workers stop once every chunk below the best solution is done. The result is therefore
//! the *smallest* valid nonce at or above the start, whatever the thread count or scheduling:
//! mining is deterministic given (header template, start nonce).

#![deny(clippy::float_arithmetic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam::channel::{Receiver, bounded};

use crate::block::Header;
use crate::error::Error;
use crate::pot;

/// Nonces per work unit.
pub const CHUNK: u64 = 4096;
/// How often (in nonces) a worker looks at the cancel flag.
const CANCEL_POLL: u64 = 256;

/// Finds the smallest nonce `>= start_nonce` whose header hash meets the PoT target of
/// `template` (its `base_difficulty` and `miner_trust`), using `threads` workers.
///
/// # Errors
///
/// [`Error::MiningStopped`] with reason `"cancelled"` if `cancel` was set before the search
/// finished, or `"nonce range exhausted"` if no nonce up to `u64::MAX` works.
pub fn mine(
    template: &Header,
    start_nonce: u64,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Header, Error> {
    let target = pot::target(template.base_difficulty, template.miner_trust);
    let next_chunk = AtomicU64::new(0);
    let found = AtomicU64::new(u64::MAX);
    let found_any = AtomicBool::new(false);
    let threads = threads.max(1);
    let worker = || {
        let mut header = *template;
        loop {
            let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
            let Some(lo) = chunk
                .checked_mul(CHUNK)
                .and_then(|offset| start_nonce.checked_add(offset))
            else {
                return;
            };
            if (found_any.load(Ordering::Acquire) && lo >= found.load(Ordering::Acquire))
                || cancel.load(Ordering::Relaxed)
            {
                return;
            }
            let hi = lo.saturating_add(CHUNK - 1);
            let mut nonce = lo;
            loop {
                if (nonce - lo) % CANCEL_POLL == 0 {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    if found_any.load(Ordering::Acquire) && nonce >= found.load(Ordering::Acquire) {
                        break;
                    }
                }
                header.nonce = nonce;
                if pot::meets_target(&header.hash(), &target) {
                    found.fetch_min(nonce, Ordering::AcqRel);
                    found_any.store(true, Ordering::Release);
                    break;
                }
                if nonce == hi {
                    break;
                }
                nonce += 1;
            }
            if hi == u64::MAX {
                return;
            }
        }
    };
    let joined = crossbeam::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|_| worker());
        }
    });
    if joined.is_err() || cancel.load(Ordering::Relaxed) {
        return Err(Error::MiningStopped {
            reason: "cancelled",
        });
    }
    if found_any.load(Ordering::Acquire) {
        let mut header = *template;
        header.nonce = found.load(Ordering::Acquire);
        Ok(header)
    } else {
        Err(Error::MiningStopped {
            reason: "nonce range exhausted",
        })
    }
}

/// A mining search running on a background thread, cancellable when a new head arrives.
#[derive(Debug)]
pub struct MiningJob {
    cancel: Arc<AtomicBool>,
    result: Receiver<Result<Header, Error>>,
    handle: Option<JoinHandle<()>>,
}

impl MiningJob {
    /// Starts [`mine`] on a background thread.
    #[must_use]
    pub fn spawn(template: Header, start_nonce: u64, threads: usize) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = bounded(1);
        let flag = Arc::clone(&cancel);
        let handle = std::thread::spawn(move || {
            let outcome = mine(&template, start_nonce, threads, &flag);
            // The receiver may be gone (job dropped); nothing to report then.
            let _ = tx.send(outcome);
        });
        Self {
            cancel,
            result: rx,
            handle: Some(handle),
        }
    }

    /// Asks the workers to stop (a new head arrived); [`MiningJob::wait`] then reports
    /// [`Error::MiningStopped`].
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The channel the result arrives on, for `crossbeam::select!` against other events.
    #[must_use]
    pub fn receiver(&self) -> &Receiver<Result<Header, Error>> {
        &self.result
    }

    /// Blocks until the search ends.
    ///
    /// # Errors
    ///
    /// As [`mine`]; [`Error::MiningStopped`] ("cancelled") if the worker thread died.
    pub fn wait(mut self) -> Result<Header, Error> {
        let outcome = self.result.recv().unwrap_or(Err(Error::MiningStopped {
            reason: "cancelled",
        }));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
        outcome
    }
}

impl Drop for MiningJob {
    fn drop(&mut self) {
        self.cancel();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use fusion::Fx;

    use super::*;
    use crate::crypto::SecretKey;
    use crate::digest::Hash256;

    fn template(base: u64) -> Header {
        Header {
            height: 1,
            prev_hash: Hash256([1; 32]),
            tx_root: Hash256([2; 32]),
            state_root: Hash256([3; 32]),
            miner: *SecretKey::from_seed(&[5; 32]).unwrap().public_key(),
            miner_trust: Fx::ZERO,
            timestamp_ms: 10,
            base_difficulty: base,
            nonce: 0,
        }
    }

    #[test]
    fn smallest_nonce_whatever_the_thread_count() {
        let t = template(3000);
        let never = AtomicBool::new(false);
        let one = mine(&t, 0, 1, &never).unwrap();
        let three = mine(&t, 0, 3, &never).unwrap();
        assert_eq!(one.nonce, three.nonce);
        let target = pot::target(3000, Fx::ZERO);
        assert!(pot::meets_target(&one.hash(), &target));
        // No smaller nonce works.
        for n in 0..one.nonce {
            let mut h = t;
            h.nonce = n;
            assert!(!pot::meets_target(&h.hash(), &target));
        }
        // Starting past it finds the next one.
        let later = mine(&t, one.nonce + 1, 2, &never).unwrap();
        assert!(later.nonce > one.nonce);
    }

    #[test]
    fn cancel_stops_the_job() {
        // Expected 2^60 hashes: never found in a test.
        let job = MiningJob::spawn(template(1 << 60), 0, 2);
        job.cancel();
        assert_eq!(
            job.wait(),
            Err(Error::MiningStopped {
                reason: "cancelled"
            })
        );
    }

    #[test]
    fn exhausted_range_is_reported() {
        let never = AtomicBool::new(false);
        let t = template(u64::MAX);
        assert_eq!(
            mine(&t, u64::MAX - 10, 2, &never),
            Err(Error::MiningStopped {
                reason: "nonce range exhausted"
            })
        );
    }
}
