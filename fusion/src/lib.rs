//! trustband-fusion (in progress).
