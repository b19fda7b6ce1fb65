//! The round timeline: SPEC 1's flow for one channel and one round, as windows of block heights.
//!
//! Purpose: every phase change of a round is triggered by a block height, never by a clock, so
//! every node applies it in the same block. All windows are configured relative to the height
//! `c` of the block that opened the task ([`crate::contracts::csc::CscParams`],
//! [`crate::contracts::sac::SacParams`]); this module turns them into absolute heights
//! ([`TaskTimeline`], [`AuctionTimeline`]) and says which stage a height falls in.
//!
//! ```text
//! height   c ......... c+rc | c+rc+1 .... c+dl | c+dl+1 ...... c+re | c+re+1 ... c+re+retain
//! CSC      open, register,  | ring-signed      | identity reveals   | settled record kept,
//!          buy-in           | uploads          |                    | removed at the end
//! hook     select (end of c+rc)  fuse (end of c+dl)  settle (end of c+re)   close
//! SAC                          opened at end of f = c+dl if idle:
//!                              commits f+1 ..= f+cl, reveals ..= f+cl+rl, settle at the end
//!                              of f+cl+rl, state removed at the end of f+expiry
//! Lease                        granted at the auction's settlement for `term` blocks;
//!                              suspended by a later busy decision, resumed by an idle one
//! ```
//! (`rc` registration close, `dl` deadline, `re` reveal end, `cl`/`rl` commit/reveal lengths.)
//!
//! Paper A's six phases map onto it: 1 request/deploy = open; 2 register (+ buy-in);
//! 3 selection = the hook at the registration close; 4 sensing = uploads, fusion at the
//! deadline; 5 auction (if idle) = the SAC windows after fusion; 6 trust update = reveals, then
//! settlement. Each step emits a typed event ([`crate::contracts::events::ContractEvent`]).
//! A call outside its window is rejected: before it opens with [`Error::OutOfPhase`], after it
//! closes with [`Error::Late`].
#![deny(clippy::float_arithmetic)]

use crate::error::Error;

/// Where a height falls in a task's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStage {
    /// `c ..= c+rc`: registrations and buy-ins.
    Registration,
    /// `c+rc+1 ..= c+dl`: uploads.
    Sensing,
    /// `c+dl+1 ..= c+re`: identity reveals.
    Revealing,
    /// After `c+re`: settled, record retained until removal.
    Settled,
}

/// A task's windows in absolute heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTimeline {
    /// Height of the block that opened the task.
    pub created: u64,
    /// Last registration height (selection at its end).
    pub registration_close: u64,
    /// Last upload height (fusion at its end).
    pub deadline: u64,
    /// Last reveal height (settlement at its end).
    pub reveal_end: u64,
    /// Height at whose end the settled record is removed.
    pub removal: u64,
}

fn offset(base: u64, by: u64, what: &'static str) -> Result<u64, Error> {
    base.checked_add(by).ok_or(Error::Overflow { what })
}

impl TaskTimeline {
    /// The timeline of a task opened at `created` with relative windows `rc < dl < re`
    /// and retention `retain`.
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] if a height does not fit in `u64`.
    pub fn new(created: u64, rc: u64, dl: u64, re: u64, retain: u64) -> Result<Self, Error> {
        let reveal_end = offset(created, re, "task timeline")?;
        Ok(Self {
            created,
            registration_close: offset(created, rc, "task timeline")?,
            deadline: offset(created, dl, "task timeline")?,
            reveal_end,
            removal: offset(reveal_end, retain, "task timeline")?,
        })
    }

    /// The stage a call at `height` falls in (heights before `created` count as registration:
    /// the task cannot be called before it exists).
    #[must_use]
    pub fn stage_at(&self, height: u64) -> TaskStage {
        if height <= self.registration_close {
            TaskStage::Registration
        } else if height <= self.deadline {
            TaskStage::Sensing
        } else if height <= self.reveal_end {
            TaskStage::Revealing
        } else {
            TaskStage::Settled
        }
    }

    /// Checks that `call` at `height` falls in `stage`.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfPhase`] if the stage's window has not opened yet, [`Error::Late`] if it
    /// has closed.
    pub fn require(
        &self,
        call: &'static str,
        task: u64,
        height: u64,
        stage: TaskStage,
    ) -> Result<(), Error> {
        let (opens, closes) = match stage {
            TaskStage::Registration => (self.created, self.registration_close),
            TaskStage::Sensing => (self.registration_close.saturating_add(1), self.deadline),
            TaskStage::Revealing => (self.deadline.saturating_add(1), self.reveal_end),
            TaskStage::Settled => (self.reveal_end.saturating_add(1), u64::MAX),
        };
        window(call, task, height, opens, closes)
    }
}

/// Where a height falls in an auction's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionStage {
    /// `f+1 ..= f+cl`: blinded commits.
    Commit,
    /// `f+cl+1 ..= f+cl+rl`: reveals.
    Reveal,
    /// After the reveal end, until removal at the expiry.
    Settled,
}

/// An auction's windows in absolute heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuctionTimeline {
    /// Height of the block whose fusion opened it (commits start one block later).
    pub created: u64,
    /// Last commit height.
    pub commit_end: u64,
    /// Last reveal height (settlement at its end).
    pub reveal_end: u64,
    /// Height at whose end the state is removed.
    pub expiry: u64,
}

impl AuctionTimeline {
    /// The timeline of an auction opened at `created` with commit length `cl >= 1`, reveal
    /// length `rl >= 1` and expiry `expiry >= cl + rl` (relative).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] if a height does not fit in `u64`.
    pub fn new(created: u64, cl: u64, rl: u64, expiry: u64) -> Result<Self, Error> {
        let commit_end = offset(created, cl, "auction timeline")?;
        Ok(Self {
            created,
            commit_end,
            reveal_end: offset(commit_end, rl, "auction timeline")?,
            expiry: offset(created, expiry, "auction timeline")?,
        })
    }

    /// Checks that `call` at `height` falls in `stage`.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfPhase`] before the window, [`Error::Late`] after it.
    pub fn require(
        &self,
        call: &'static str,
        auction: u64,
        height: u64,
        stage: AuctionStage,
    ) -> Result<(), Error> {
        let (opens, closes) = match stage {
            AuctionStage::Commit => (self.created.saturating_add(1), self.commit_end),
            AuctionStage::Reveal => (self.commit_end.saturating_add(1), self.reveal_end),
            AuctionStage::Settled => (self.reveal_end.saturating_add(1), u64::MAX),
        };
        window(call, auction, height, opens, closes)
    }
}

fn window(
    call: &'static str,
    task: u64,
    height: u64,
    opens: u64,
    closes: u64,
) -> Result<(), Error> {
    if height < opens {
        Err(Error::OutOfPhase {
            call,
            task,
            height,
            opens,
        })
    } else if height > closes {
        Err(Error::Late {
            call,
            task,
            height,
            deadline: closes,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn task_windows_partition_the_heights() {
        let t = TaskTimeline::new(100, 2, 5, 8, 4).unwrap();
        assert_eq!(
            (t.registration_close, t.deadline, t.reveal_end, t.removal),
            (102, 105, 108, 112)
        );
        let stages: Vec<_> = (100..=109).map(|h| t.stage_at(h)).collect();
        use TaskStage::*;
        assert_eq!(
            stages,
            [
                Registration,
                Registration,
                Registration,
                Sensing,
                Sensing,
                Sensing,
                Revealing,
                Revealing,
                Revealing,
                Settled
            ]
        );
        assert!(t.require("upload", 1, 103, Sensing).is_ok());
        assert_eq!(
            t.require("upload", 1, 102, Sensing),
            Err(Error::OutOfPhase {
                call: "upload",
                task: 1,
                height: 102,
                opens: 103
            })
        );
        assert_eq!(
            t.require("upload", 1, 106, Sensing),
            Err(Error::Late {
                call: "upload",
                task: 1,
                height: 106,
                deadline: 105
            })
        );
        assert!(TaskTimeline::new(u64::MAX - 1, 0, 1, 2, 0).is_err());
    }

    #[test]
    fn auction_windows() {
        let a = AuctionTimeline::new(10, 2, 3, 6).unwrap();
        assert_eq!((a.commit_end, a.reveal_end, a.expiry), (12, 15, 16));
        assert!(matches!(
            a.require("commit", 1, 10, AuctionStage::Commit),
            Err(Error::OutOfPhase { opens: 11, .. })
        ));
        assert!(a.require("commit", 1, 12, AuctionStage::Commit).is_ok());
        assert!(matches!(
            a.require("commit", 1, 13, AuctionStage::Commit),
            Err(Error::Late { deadline: 12, .. })
        ));
        assert!(a.require("reveal", 1, 15, AuctionStage::Reveal).is_ok());
    }
}
