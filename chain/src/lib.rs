//! trustband-chain (in progress).
