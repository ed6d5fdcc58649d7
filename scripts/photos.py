"""Real photos for the thumbnailer's demo and benchmark, fetched reproducibly.

Debian's wallpaper packages are photos and artwork at 1 to 18 megapixels, in JPEG
(baseline and progressive), PNG and WebP. `apt-get download` fetches the packages
(no installation, no root needed for that step beyond apt's own cache) and
`dpkg-deb -x` unpacks them under .bench/corpus, which later runs reuse.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".bench" / "corpus"
PACKAGES = ["mate-backgrounds", "gnome-backgrounds"]
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


def photos() -> list[Path]:
    """Every photo of the packages, sorted; downloads and unpacks them the first time."""
    if not CORPUS.exists():
        if shutil.which("apt-get") is None:
            raise SystemExit(f"fetching the photos needs Debian's apt-get (packages {', '.join(PACKAGES)}); "
                             f"or put JPEG, PNG and WebP photos under {CORPUS}")
        debs = CORPUS.parent / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
        for deb in debs.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(CORPUS)], check=True)
    files = sorted(p for p in CORPUS.rglob("*")
                   if p.suffix.lower() in EXTENSIONS and p.is_file() and not p.is_symlink())
    if not files:
        raise SystemExit(f"no photos found under {CORPUS}")
    return files
