//! Band plans: named sets of channels loaded from TOML (`testbed-configs/bands/`).
//!
//! (Skeleton: being written.)
