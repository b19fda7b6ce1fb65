//! SoapySDR source. (Skeleton: being written.)
