//! trustband-tui (in progress).
