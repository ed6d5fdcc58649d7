"""HEIC test fixtures and libheif's own decode of each, for the thumbnailer's HEIC tests.

Two kinds of file land in .bench/heic (HEIC_FIXTURES), with manifest.json describing them:
- real photos from phones and a camera, as their devices wrote them (grid-tiled, rotated by
  the container, Display P3 profiles, 10-bit 4:2:2): the test images pillow-heif ships in its
  source release on PyPI, fetched at the version pinned here and checked against its SHA-256;
- HEICs made here from the corpus's photos (scripts/photos.py) with libheif and x265 through
  pillow-heif (the same library as Debian's `heif-enc`, installed by pip without root): a
  plain one, one stored sideways with an `irot` that turns it upright, one whose values are
  declared Display P3, and a truncated one, which must be rejected.

For each readable file, `<name>.ref.png` is the reference its thumbnail is compared with:
libheif's decode (with libde265), its embedded profile converted to sRGB by LittleCMS, resized
with Lanczos into the same 256 x 256 box the test uses; for a file with a profile,
`<name>.unmanaged.png` is the same without the conversion.

Run by `make test` (the `corpus` step) after scripts/photos.py; later runs reuse the files.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".bench" / "corpus"
OUT = ROOT / ".bench" / "heic"
DISPLAY_P3 = ROOT / "imaging" / "testdata" / "icc" / "DisplayP3-v4.icc"
BOX = (256, 256)
# Bump when what this script writes changes, so older fixtures are made again.
VERSION = 2

SDIST = ("pillow-heif", "1.9.0", "8a13d15106c9dbbd66a65966edee2ee0de3950c18dc3ea42912442cda803ea4c")
# (path in the source release, fixture name, what it is)
DEVICE_FILES = [
    ("tests/images/heif_other/pug.heic", "iphone-13-pro.heic",
     "iPhone 13 Pro: 4032 x 3024 in a grid of 512 x 512 tiles, Display P3 profile"),
    ("tests/images/heif_other/arrow.heic", "iphone-8-plus-turned.heic",
     "iPhone 8 Plus: a grid stored 4032 x 3024, turned upright by its container's irot"),
    ("tests/images/heif_other/empty_icc.heic", "iphone-xs.heic", "iPhone XS: 1025 x 900, Display P3 profile"),
    ("tests/images/heif_special/xiaomi.heic", "xiaomi.heic", "Xiaomi M2012K11AG: 2592 x 1944, nclx colour"),
    ("tests/images/heif_other/cat.hif", "sony-a7s-iii.hif", "Sony A7S III camera: 10-bit 4:2:2, 4240 x 2832"),
]
# (corpus photo, fixture name, what is done to it)
MADE_FILES = [
    ("Elephants.jpg", "made-plain.heic", "plain"),
    ("720x1440.jpg", "made-turned.heic", "turned"),
    ("FreshFlower.jpg", "made-display-p3.heic", "display-p3"),
]


def fit_inside(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """imaging::fit_inside, to the pixel: the thumbnail's size in the box."""
    bw, bh = box
    if width <= bw and height <= bh:
        return max(width, 1), max(height, 1)
    if width * bh >= height * bw:
        return bw, max((height * bw + width // 2) // width, 1)
    return max((width * bh + height // 2) // height, 1), bh


def fetch_sdist(into: Path) -> Path:
    """The source release, downloaded by pip from the package index and checked."""
    name, version, sha256 = SDIST
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-binary", ":all:", "-d", str(into), f"{name}=={version}"],
        capture_output=True, text=True, check=False)
    archives = list(into.glob("pillow_heif-*.tar.gz"))
    if not archives:
        raise SystemExit(f"cannot download {name} {version}'s source release with pip: {result.stderr.strip()}")
    digest = hashlib.sha256(archives[0].read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{archives[0].name} has SHA-256 {digest}, not the pinned {sha256}")
    return archives[0]


def corpus_photo(name: str) -> Path:
    found = sorted(glob.glob(str(CORPUS / "**" / name), recursive=True))
    if not found:
        raise SystemExit(f"{name} is not in {CORPUS}: run scripts/photos.py first (make test does)")
    return Path(found[0])


def made(photo: Path, how: str) -> bytes:
    image = Image.open(photo).convert("RGB")
    image.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if how == "turned":
        # Stored as the photo is, with EXIF orientation 6: libheif writes it as an `irot`
        # (a quarter turn clockwise) and drops the EXIF tag, as an iPhone's files have it.
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(out, "HEIF", quality=80, exif=exif.tobytes())
    elif how == "display-p3":
        image.save(out, "HEIF", quality=80, icc_profile=DISPLAY_P3.read_bytes())
    else:
        image.save(out, "HEIF", quality=80)
    return out.getvalue()


def in_box(image: Image.Image) -> Image.Image:
    return image.resize(fit_inside(*image.size, BOX), Image.Resampling.LANCZOS, reducing_gap=None)


def references(path: Path) -> dict:
    """libheif's decode, in sRGB, in the box (and, for a file with a profile, the same without
    converting its colours: what a thumbnailer that ignores the profile would show)."""
    heif = Image.open(path)
    heif.load()
    icc = heif.info.get("icc_profile")
    image = heif.convert("RGB")
    facts = {"width": image.width, "height": image.height, "unmanaged": bool(icc)}
    if icc:
        in_box(image).save(path.with_name(path.name + ".unmanaged.png"))
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    small = in_box(image)
    small.save(path.with_name(path.name + ".ref.png"))
    return facts | {"thumbnail": list(small.size)}


def main() -> None:
    manifest_path = OUT / "manifest.json"
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("version") == VERSION:
        print(f"{OUT}: up to date")
        return
    pillow_heif.register_heif_opener()
    OUT.mkdir(parents=True, exist_ok=True)
    fixtures = []
    with tempfile.TemporaryDirectory(prefix="heic-") as tmp:
        with tarfile.open(fetch_sdist(Path(tmp))) as archive:
            members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if "/" in m.name}
            for inside, name, what in DEVICE_FILES:
                data = archive.extractfile(members[inside]).read()
                (OUT / name).write_bytes(data)
                fixtures.append({"file": name, "what": what, "source": f"pillow-heif {SDIST[1]}: {inside}"})
    for photo, name, how in MADE_FILES:
        (OUT / name).write_bytes(made(corpus_photo(photo), how))
        fixtures.append({"file": name, "what": f"{photo}, {how}", "source": "made from the corpus"})
    for fixture in fixtures:
        fixture.update(references(OUT / fixture["file"]), rejected=False)
    # Cut mid-way through the picture data: the decoder must say so, not crash or hang.
    whole = (OUT / "made-plain.heic").read_bytes()
    (OUT / "truncated.heic").write_bytes(whole[: len(whole) * 2 // 3])
    fixtures.append({"file": "truncated.heic", "what": "made-plain.heic cut at two thirds",
                     "source": "made from the corpus", "rejected": True})
    manifest_path.write_text(json.dumps({"version": VERSION, "box": list(BOX), "fixtures": fixtures}, indent=1))
    print(f"{OUT}: {len(fixtures)} fixtures")


if __name__ == "__main__":
    main()
