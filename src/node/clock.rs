//! Clocks for the drivers: the node itself never reads one (it is handed `now_ms`).
//!
//! [`WallClock`] is Unix time (the lab); [`VirtualClock`] is a genesis time plus the virtual
//! milliseconds the simulation has advanced, shared by every simulated node.

use std::cell::Cell;
use std::rc::Rc;

/// Milliseconds on a node's clock.
pub trait Clock {
    /// Now, ms (Unix epoch based in the lab; genesis time plus virtual time in simulations).
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A virtual clock: `origin_ms` plus the time the simulation has set.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    origin_ms: u64,
    elapsed_ms: Rc<Cell<u64>>,
}

impl VirtualClock {
    /// A clock starting at `origin_ms`.
    #[must_use]
    pub fn new(origin_ms: u64) -> Self {
        Self {
            origin_ms,
            elapsed_ms: Rc::new(Cell::new(0)),
        }
    }

    /// Sets the virtual time elapsed since the origin (never backwards).
    pub fn set_elapsed(&self, elapsed_ms: u64) {
        self.elapsed_ms.set(self.elapsed_ms.get().max(elapsed_ms));
    }

    /// Virtual time elapsed since the origin.
    #[must_use]
    pub fn elapsed_ms(&self) -> u64 {
        self.elapsed_ms.get()
    }

    /// The origin.
    #[must_use]
    pub fn origin_ms(&self) -> u64 {
        self.origin_ms
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> u64 {
        self.origin_ms.saturating_add(self.elapsed_ms.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_only_moves_forward() {
        let c = VirtualClock::new(1000);
        let shared = c.clone();
        c.set_elapsed(50);
        assert_eq!(shared.now_ms(), 1050);
        c.set_elapsed(20);
        assert_eq!(shared.now_ms(), 1050);
        assert!(WallClock.now_ms() > 1_600_000_000_000);
    }
}
