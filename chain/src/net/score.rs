//! Application-level peer scores: how a node remembers which peers sent it garbage.
//!
//! Data flow: when a peer's message, request or response fails to decode (or the node reports
//! it as invalid after validation), the transport calls [`ScoreBook::penalise`] with the
//! [`Offence`]; the peer's score drops by the offence's penalty and recovers linearly with
//! time (so an occasional glitch is forgiven); at or below [`ScoreConfig::ban_threshold`] the
//! peer is banned for [`ScoreConfig::ban_ms`]: the transport disconnects it and refuses it
//! until the ban ends. Every penalty is also surfaced to the node as a
//! [`crate::net::NetEvent::Misbehaviour`].
//!
//! Both transports use this book with their own clock (virtual milliseconds in
//! [`crate::net::sim`], milliseconds since start in [`crate::net::p2p`]), so the same faults
//! lead to the same bans. Scores are integers: no floating point, deterministic everywhere.
//! libp2p's gossipsub keeps its own score as well; [`crate::net::p2p`] feeds this one into it
//! as the application-specific component.

use std::collections::HashMap;
use std::hash::Hash;

use crate::error::Error;

/// Why a peer was penalised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Offence {
    /// A gossip message that did not decode (or arrived on the wrong topic).
    MalformedMessage(Error),
    /// A sync request that did not decode.
    MalformedRequest(Error),
    /// A sync response that did not decode.
    MalformedResponse(Error),
    /// The node found the peer's content invalid after decoding (a bad signature, an invalid
    /// block) and reported it.
    Reported(String),
}

impl core::fmt::Display for Offence {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Offence::MalformedMessage(e) => write!(f, "malformed gossip message: {e}"),
            Offence::MalformedRequest(e) => write!(f, "malformed sync request: {e}"),
            Offence::MalformedResponse(e) => write!(f, "malformed sync response: {e}"),
            Offence::Reported(reason) => write!(f, "invalid content: {reason}"),
        }
    }
}

/// Scoring parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreConfig {
    /// Points lost for undecodable bytes (a message, request or response).
    pub malformed_penalty: u32,
    /// Points lost for content the node reports invalid.
    pub reported_penalty: u32,
    /// A peer whose score falls to this value or below is banned (negative).
    pub ban_threshold: i64,
    /// Points regained per second, up to 0.
    pub recovery_per_sec: u32,
    /// How long a ban lasts, in milliseconds.
    pub ban_ms: u64,
}

impl Default for ScoreConfig {
    /// Two malformed frames in quick succession ban a peer for ten minutes; one is forgiven
    /// after under a minute.
    fn default() -> Self {
        Self {
            malformed_penalty: 50,
            reported_penalty: 25,
            ban_threshold: -100,
            recovery_per_sec: 1,
            ban_ms: 600_000,
        }
    }
}

impl ScoreConfig {
    /// Checks the parameters.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if the ban threshold is not negative.
    pub fn validate(&self) -> Result<(), Error> {
        if self.ban_threshold >= 0 {
            return Err(Error::InvalidConfig {
                field: "scoring.ban_threshold",
                reason: format!("must be negative, got {}", self.ban_threshold),
            });
        }
        Ok(())
    }

    /// The penalty of an offence.
    #[must_use]
    pub fn penalty(&self, offence: &Offence) -> u32 {
        match offence {
            Offence::MalformedMessage(_)
            | Offence::MalformedRequest(_)
            | Offence::MalformedResponse(_) => self.malformed_penalty,
            Offence::Reported(_) => self.reported_penalty,
        }
    }
}

/// The outcome of a penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The peer's score after the penalty.
    pub score: i64,
    /// Whether this penalty banned the peer (it was not banned before).
    pub banned: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    score: i64,
    updated_ms: u64,
    banned_until_ms: u64,
}

/// Scores of the peers a node has penalised (peers never penalised score 0).
#[derive(Debug, Clone)]
pub struct ScoreBook<P> {
    config: ScoreConfig,
    entries: HashMap<P, Entry>,
}

impl<P: Eq + Hash + Clone> ScoreBook<P> {
    /// An empty book.
    #[must_use]
    pub fn new(config: ScoreConfig) -> Self {
        Self {
            config,
            entries: HashMap::new(),
        }
    }

    /// The parameters.
    #[must_use]
    pub fn config(&self) -> &ScoreConfig {
        &self.config
    }

    fn recovered(&self, entry: &Entry, now_ms: u64) -> i64 {
        let elapsed = now_ms.saturating_sub(entry.updated_ms);
        let regained = u128::from(elapsed) * u128::from(self.config.recovery_per_sec) / 1000;
        let regained = i64::try_from(regained).unwrap_or(i64::MAX);
        entry.score.saturating_add(regained).min(0)
    }

    /// The peer's score at `now_ms`.
    #[must_use]
    pub fn score(&self, peer: &P, now_ms: u64) -> i64 {
        self.entries
            .get(peer)
            .map_or(0, |e| self.recovered(e, now_ms))
    }

    /// Whether the peer is banned at `now_ms`.
    #[must_use]
    pub fn is_banned(&self, peer: &P, now_ms: u64) -> bool {
        self.entries
            .get(peer)
            .is_some_and(|e| e.banned_until_ms > now_ms)
    }

    /// Lowers the peer's score for `offence` at `now_ms`; bans it if the score reaches the
    /// threshold.
    pub fn penalise(&mut self, peer: &P, offence: &Offence, now_ms: u64) -> Verdict {
        let penalty = i64::from(self.config.penalty(offence));
        let current = self.score(peer, now_ms);
        let was_banned = self.is_banned(peer, now_ms);
        let score = current.saturating_sub(penalty);
        let ban_now = !was_banned && score <= self.config.ban_threshold;
        let banned_until_ms = match self.entries.get(peer) {
            _ if ban_now => now_ms.saturating_add(self.config.ban_ms),
            Some(e) => e.banned_until_ms,
            None => 0,
        };
        self.entries.insert(
            peer.clone(),
            Entry {
                score,
                updated_ms: now_ms,
                banned_until_ms,
            },
        );
        Verdict {
            score,
            banned: ban_now,
        }
    }

    /// Peers whose ban has ended by `now_ms` and that were banned before; their ban is cleared
    /// and they are returned so the transport can let them back in.
    pub fn expire_bans(&mut self, now_ms: u64) -> Vec<P> {
        let mut released = Vec::new();
        for (peer, entry) in &mut self.entries {
            if entry.banned_until_ms != 0 && entry.banned_until_ms <= now_ms {
                entry.banned_until_ms = 0;
                released.push(peer.clone());
            }
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad() -> Offence {
        Offence::MalformedMessage(Error::UnknownTag {
            field: "net.message",
            tag: 9,
        })
    }

    #[test]
    fn two_malformed_frames_ban_and_time_heals() {
        let mut book = ScoreBook::new(ScoreConfig::default());
        let v = book.penalise(&1u32, &bad(), 0);
        assert_eq!(
            v,
            Verdict {
                score: -50,
                banned: false
            }
        );
        // Scores recover one point a second.
        assert_eq!(book.score(&1, 10_000), -40);
        // A second offence right away bans.
        let v = book.penalise(&1, &bad(), 0);
        assert_eq!(
            v,
            Verdict {
                score: -100,
                banned: true
            }
        );
        assert!(book.is_banned(&1, 599_999));
        assert!(!book.is_banned(&1, 600_000));
        // Further offences while banned do not re-ban.
        assert!(!book.penalise(&1, &bad(), 1).banned);
        assert_eq!(book.expire_bans(600_000), vec![1]);
        assert!(book.expire_bans(600_001).is_empty());
        // Recovery stops at 0, and other peers are untouched.
        assert_eq!(book.score(&1, 10_000_000), 0);
        assert_eq!(book.score(&2, 0), 0);
    }

    #[test]
    fn reported_offences_cost_less_and_config_is_checked() {
        let config = ScoreConfig::default();
        assert_eq!(config.penalty(&Offence::Reported("bad sig".into())), 25);
        assert!(
            ScoreConfig {
                ban_threshold: 0,
                ..config
            }
            .validate()
            .is_err()
        );
    }
}
