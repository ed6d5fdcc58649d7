"""Real photos for the thumbnailer's demo and benchmark, fetched reproducibly.

Debian's wallpaper packages are photos and artwork at 1 to 18 megapixels, in JPEG
(baseline and progressive), PNG and WebP. `apt-get download` fetches the packages
(no installation, no root needed for that step beyond apt's own cache) and
`dpkg-deb -x` unpacks them under .bench/corpus, which later runs reuse; the packages
and their files that are not photos are deleted.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".bench" / "corpus"
PACKAGES = ["mate-backgrounds", "gnome-backgrounds", "plasma-workspace-wallpapers", "lomiri-wallpapers"]
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


def photos() -> list[Path]:
    """Every photo of the packages, sorted; downloads and unpacks them the first time."""
    missing = [p for p in PACKAGES if not (CORPUS / ".unpacked" / p).exists()]
    if missing:
        if shutil.which("apt-get") is None:
            raise SystemExit(f"fetching the photos needs Debian's apt-get (packages {', '.join(missing)}); "
                             f"or put JPEG, PNG and WebP photos under {CORPUS}")
        debs = CORPUS.parent / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        for package in missing:
            for old in debs.glob(f"{package}_*.deb"):
                old.unlink()
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
            for deb in debs.glob(f"{package}_*.deb"):
                subprocess.run(["dpkg-deb", "-x", str(deb), str(CORPUS)], check=True)
                deb.unlink()  # the photos are unpacked: the package would only take disk space
        for path in sorted(CORPUS.rglob("*"), reverse=True):
            if ".unpacked" in path.relative_to(CORPUS).parts:
                continue
            if path.is_file() and not path.is_symlink() and path.suffix.lower() not in EXTENSIONS:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()) and path.name != ".unpacked":
                path.rmdir()
        for package in missing:
            (CORPUS / ".unpacked").mkdir(parents=True, exist_ok=True)
            (CORPUS / ".unpacked" / package).touch()
    # Symbolic links repeat a photo under other names; screenshots are the packages' own previews.
    files = sorted(p for p in CORPUS.rglob("*")
                   if p.suffix.lower() in EXTENSIONS and p.is_file() and not p.is_symlink()
                   and p.name != "screenshot.jpg" and p.stat().st_size > 4096)
    if not files:
        raise SystemExit(f"no photos found under {CORPUS}")
    return files


if __name__ == "__main__":
    # The corpus's paths, one a line (the batch benchmark reads them).
    print("\n".join(str(path) for path in photos()))
