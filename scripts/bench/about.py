"""How a benchmark was taken: the machine, the code and the compiler, printed by every bench
command before its figures, so that a table copied into the docs carries them.

    python3 scripts/bench/about.py     # one line, e.g. for `make bench-eks`
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _output(*command: str) -> str:
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """CPU model, cores, commit (with '+changes' when the tree differs from it), rustc, kernel."""
    commit = _output("git", "rev-parse", "--short=12", "HEAD")
    if _output("git", "status", "--porcelain", "--untracked-files=no"):
        commit += "+changes"
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores; commit {commit}; {_output('rustc', '--version')}; "
            f"Linux {platform.release()}")


def spread(values: list[float]) -> str:
    """The spread of repeated runs' figures: (largest - smallest) / median, as a percentage."""
    if len(values) < 2:
        return "one run"
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    return f"{(ordered[-1] - ordered[0]) / middle:.0%}"


if __name__ == "__main__":
    print(describe())
