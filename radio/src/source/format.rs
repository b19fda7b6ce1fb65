//! Sample formats of raw IQ files. (Skeleton: being written.)
