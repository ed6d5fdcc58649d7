"""Real photos for the thumbnailer's demo, tests and benchmark, fetched reproducibly.

Debian's wallpaper packages are photos and artwork at 1 to 18 megapixels, in JPEG
(baseline and progressive), PNG and WebP. Each package file is fetched from Debian's
archive at the version pinned here, checked against its SHA-256 and unpacked by this
script (a .deb is an `ar` archive holding a tar), so neither apt nor dpkg nor root is
needed: any Linux (or macOS) machine with Python 3 and HTTP access to deb.debian.org
(or the mirror in DEBIAN_MIRROR) gets the same photos. They land under .bench/corpus,
which later runs reuse; the files that are not photos are not kept.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".bench" / "corpus"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian").rstrip("/")
# Debian 12 (bookworm)'s files: `apt-cache show <package>` gives Filename and SHA256.
PACKAGES = {
    "mate-backgrounds": ("pool/main/m/mate-backgrounds/mate-backgrounds_1.26.0-1_all.deb",
                         "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04"),
    "gnome-backgrounds": ("pool/main/g/gnome-backgrounds/gnome-backgrounds_43.1-1_all.deb",
                          "a670dea21572652127d6e55f9cdb3a226d0037854fdbfd037003c7d00ee0dc4e"),
    "plasma-workspace-wallpapers": (
        "pool/main/p/plasma-workspace-wallpapers/plasma-workspace-wallpapers_5.27.5-2_all.deb",
        "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b"),
    "lomiri-wallpapers": ("pool/main/l/lomiri-wallpapers/lomiri-wallpapers_20.04.0-2_all.deb",
                          "6b75961132a2035f9c4db79f725a7290092619c5c8f672071c84cb5b10898e07"),
}
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


def fetch(package: str) -> Path:
    """The package file, downloaded and checked against its pinned SHA-256."""
    pool_path, sha256 = PACKAGES[package]
    url = f"{MIRROR}/{pool_path}"
    target = Path(tempfile.mkdtemp(prefix="photos-")) / Path(pool_path).name
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=120) as response, target.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:
        raise SystemExit(f"cannot download {url}: {err}. The photos come from Debian's archive: "
                         f"set DEBIAN_MIRROR to a reachable Debian mirror, or put JPEG, PNG and WebP "
                         f"photos under {CORPUS}") from err
    if digest.hexdigest() != sha256:
        raise SystemExit(f"{url} has SHA-256 {digest.hexdigest()}, not the pinned {sha256}: "
                         f"the mirror serves another file; try another DEBIAN_MIRROR")
    return target


def unpack_photos(deb: Path, into: Path) -> None:
    """The photos of a .deb (an `ar` archive whose data.tar.* holds the files)."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise SystemExit(f"{deb} is not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)  # members are aligned to two bytes
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                members = [m for m in tar.getmembers()
                           if m.isfile() and Path(m.name).suffix.lower() in EXTENSIONS]
                # The "data" filter refuses absolute paths and links out of the folder (Python 3.8.17+, 3.11.4+).
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(into, members=members, **safe)
            return
    raise SystemExit(f"{deb} has no data.tar member")


def photos() -> list[Path]:
    """Every photo of the packages, sorted; downloads and unpacks them the first time."""
    for package in PACKAGES:
        marker = CORPUS / ".unpacked" / package
        if marker.exists():
            continue
        deb = fetch(package)
        try:
            unpack_photos(deb, CORPUS)
        finally:
            shutil.rmtree(deb.parent)  # the photos are unpacked: the package would only take disk space
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
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
