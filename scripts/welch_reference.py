#!/usr/bin/env python3
"""Reference timing for `trustband bench dsp`: scipy.signal.welch on the same cu8 file.

Usage: welch_reference.py FILE.cu8 [OUR_MSPS] [--window-samples N]

Reads interleaved cu8 (x = (v - 127.5) / 128) into complex64, then runs
scipy.signal.welch(nperseg=1024, noverlap=512, window='hann', return_onesided=False)
once per sensing window, as our bench does (radio::detector::bench_dsp: 0.1 s windows at
2.4 MS/s = 240,000 samples, one PSD per window). The cu8 -> complex64 conversion is included in
the timing (ours converts through a lookup table inside the loop). Single thread: BLAS/FFT
thread pools are pinned to 1 through the environment before numpy is imported.

Prints `scipy_msps: X` and, given our figure, `ratio: Y` (ours / scipy).
"""
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    window = 240_000
    if "--window-samples" in sys.argv:
        window = int(sys.argv[sys.argv.index("--window-samples") + 1])
        args = [a for a in args if a != str(window)]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    ours = float(args[1]) if len(args) > 1 else None
    raw = np.fromfile(path, dtype=np.uint8)
    start = time.perf_counter()
    v = (raw.astype(np.float32) - 127.5) / 128.0
    x = (v[0::2] + 1j * v[1::2]).astype(np.complex64)
    total = 0
    for s in range(0, len(x) - window + 1, window):
        welch(x[s : s + window], nperseg=1024, noverlap=512, window="hann", return_onesided=False)
        total += window
    elapsed = time.perf_counter() - start
    msps = total / elapsed / 1e6
    print(f"samples: {total} in {elapsed:.3f} s")
    print(f"scipy_msps: {msps:.1f}")
    if ours is not None:
        print(f"ratio: {ours / msps:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
