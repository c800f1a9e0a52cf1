"""Cost of the balance analysis on a one-hour run with 100 pods, measured in one run.

Prints plain figures, no goals: the time to analyse a whole run (10 s window scores, the
one-second sliding alerts, the overall `analyse`), and the cost of one per-second
`analyse` call for 100 pods (what the run task does every second).
Run: `.venv/bin/python benchmarks/balance_analysis.py [--seconds 3600] [--pods 100]`.
Machines here have 2 cores and noisy neighbours: differences under 10 % are noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clusters.balance import alerts, analyse, windowed_scores  # noqa: E402


def make_run(seconds: int, pods: int, seed: int = 1) -> list[dict[str, int]]:
    """Per-second counts like the run task keeps: ~400 rps per pod with Poisson noise, a few
    unattributed, a minute where pod-0 is starved and five where pod-1 gets triple."""
    rng = np.random.default_rng(seed)
    names = [f"pod-{i}" for i in range(pods)]
    counts = rng.poisson(400, size=(seconds, pods))
    counts[seconds // 4: seconds // 4 + 60, 0] = 0
    counts[seconds // 2: seconds // 2 + 300, 1] *= 3
    rows = [dict(zip(names, row, strict=True)) for row in counts.tolist()]
    for row in rows[::7]:
        row["unattributed"] = 1
    return rows


def best_of(repeats: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000, help="per-second analyse calls to time")
    args = parser.parse_args()

    rows = make_run(args.seconds, args.pods)
    totals: dict[str, int] = {}
    for row in rows:
        for pod, n in row.items():
            totals[pod] = totals.get(pod, 0) + n
    analyse(rows[0])  # warm: scipy.special import, numpy paths

    windows_s, windows = best_of(args.repeats, lambda: windowed_scores(rows, window_s=10))
    alerts_s, found = best_of(args.repeats, lambda: alerts(rows, window_s=10, threshold=95.0))
    overall_s, overall = best_of(args.repeats, lambda: analyse(totals))
    whole = windows_s + alerts_s + overall_s

    start = time.perf_counter()
    for index in range(args.calls):
        analyse(rows[index % len(rows)])
    per_call = (time.perf_counter() - start) / args.calls

    print(f"run: {args.seconds} s x {args.pods} pods, best of {args.repeats}")
    print(f"windowed_scores (10 s windows, {len(windows)} windows)     {windows_s * 1e3:9.1f} ms")
    print(f"alerts (10 s window sliding by 1 s, {len(found)} alerts)        {alerts_s * 1e3:9.1f} ms")
    print(f"analyse of the run's totals                          {overall_s * 1e3:9.3f} ms")
    print(f"whole run analysed                                   {whole * 1e3:9.1f} ms")
    print(f"analyse per second, {args.pods} pods (mean of {args.calls})          {per_call * 1e6:9.1f} us"
          f"  ({per_call * 100:.4f} % of each second)")
    print(f"overall score {overall.score:.1f} ({overall.grade}); alerts at "
          + ", ".join(f"{a.start_s}-{a.end_s} s {a.worst_pod} {a.direction}" for a in found))


if __name__ == "__main__":
    main()
