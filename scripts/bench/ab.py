"""Two builds of the thumbnail benchmark's timer on the same photos, taking turns, on one core.

    python scripts/bench/ab.py BEFORE_BENCH AFTER_BENCH [--rounds 5]

Each argument is a build of `imaging/examples/bench.rs` (or of the thumbnailer's, before the
image library was a crate of its own): for example `target/release/examples/bench` copied
aside before a change, and again after it. Runs them in turn ROUNDS times over the corpus
`make bench-thumbnails` uses (`scripts/photos.py`), each timing every file three times; a
file's time is its fastest. Prints images/s per group for each build, the per-round range,
and after / before. Taking turns charges the machine's slow minutes to both builds alike, so
the ratio holds even when the absolute figures move with the machine.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.thumbnails import progressive  # noqa: E402
from photos import photos  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    builds = {"before": args.before, "after": args.after}
    files = photos()
    jpeg = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg")]
    baseline = [f for f in jpeg if not progressive(f)]
    groups = {
        "jpeg baseline": baseline,
        "jpeg progressive": [f for f in jpeg if f not in baseline],
        "png/webp": [f for f in files if f not in jpeg],
    }
    best = {name: {} for name in builds}
    per_round = {name: {group: [] for group in groups} for name in builds}
    for _ in range(args.rounds):
        for name, binary in builds.items():
            out = subprocess.run(["taskset", "-c", "0", binary, *map(str, files)], check=True, capture_output=True,
                                 text=True, env={**os.environ, "THUMB_REPEATS": "3"})
            times = {r["file"]: r["ms"] for r in json.loads(out.stdout.strip().splitlines()[-1])["results"]}
            for file, ms in times.items():
                best[name][file] = min(best[name].get(file, ms), ms)
            for group, members in groups.items():
                per_round[name][group].append(len(members) / (sum(times[str(f)] for f in members) / 1000))
    print(f"{len(files)} photos, {args.rounds} rounds, the builds taking turns, one core (taskset -c 0); "
          f"each file's fastest of {args.rounds} x 3 timings")
    print("| input | before images/s (per-round range) | after images/s (per-round range) | after / before |")
    print("|---|---|---|---|")
    for group, members in groups.items():
        rates = {name: len(members) / (sum(best[name][str(f)] for f in members) / 1000) for name in builds}
        cells = [f"{rates[n]:.1f} ({min(per_round[n][group]):.1f}-{max(per_round[n][group]):.1f})" for n in builds]
        print(f"| {group} | {cells[0]} | {cells[1]} | {rates['after'] / rates['before']:.3f} |")


if __name__ == "__main__":
    main()
