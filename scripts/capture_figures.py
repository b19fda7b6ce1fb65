#!/usr/bin/env python3
"""Issue figures 1 and 2 through the CLI: runs `trustband sense --window-ms 1` over every
capture of the shared MANIFEST.toml and reports the false-alarm rate over the checked
noise-only ranges and the share of 1 ms burst blocks flagged busy.

usage: scripts/capture_figures.py [--bin target/release/trustband] [--captures DIR] [--pfa P]
"""
import argparse, json, os, subprocess, sys, tomllib
from pathlib import Path

def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(root / "target/release/trustband"))
    ap.add_argument("--captures", default=os.environ.get("TRUSTBAND_CAPTURES", str(root.parent / "shared/iq-captures")))
    ap.add_argument("--pfa", type=float, default=0.01)
    ap.add_argument("--window-ms", type=float, default=1.0)
    args = ap.parse_args()
    cap = Path(args.captures)
    manifest = tomllib.loads((cap / "MANIFEST.toml").read_text())
    fa = fa_n = hit = hit_n = 0
    for c in manifest["capture"]:
        noise, bursts = c.get("noise_only_ranges", []), c.get("burst_blocks_1ms", [])
        want_bursts = c["path"].startswith("ism-433/") or c["path"] == "adsb-1090/modes1.bin"
        if not noise and not (want_bursts and bursts):
            continue
        cmd = [args.bin, "sense", "--input", str(cap / c["path"]), "--format", c["format"],
               "--rate", str(c["sample_rate_hz"]), "--center", str(c.get("center_freq_hz", 0.0)),
               "--window-ms", str(args.window_ms), "--pfa", str(args.pfa)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{c['path']}: exit {out.returncode}: {out.stderr.strip()}", file=sys.stderr)
            sys.exit(1)
        rows = [json.loads(l) for l in out.stdout.splitlines()]
        inside = lambda r, rs: any(r["sample_start"] >= a and r["sample_start"] + r["sample_count"] <= b for a, b in rs)
        f = [r for r in rows if inside(r, noise)]
        b = [r for r in rows if want_bursts and inside(r, bursts)]
        nf, nb = sum(r["busy"] for r in f), sum(r["busy"] for r in b)
        fa, fa_n, hit, hit_n = fa + nf, fa_n + len(f), hit + nb, hit_n + len(b)
        print(f"{c['path']:70} false alarms {nf:3}/{len(f):4}   bursts {nb:3}/{len(b):3}")
    print(f"pooled false-alarm rate: {fa}/{fa_n} = {fa / max(fa_n, 1):.4f} (target {args.pfa}, "
          f"factor-3 band [{args.pfa / 3:.4f}, {3 * args.pfa:.4f}])")
    print(f"pooled burst detection: {hit}/{hit_n} = {100 * hit / max(hit_n, 1):.1f} %")

if __name__ == "__main__":
    main()
