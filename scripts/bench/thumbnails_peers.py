"""Times one peer making 256x256 JPEG q80 thumbnails from in-memory bytes.

    python thumbnails_peers.py pillow|pyvips|decode-limit FILE...

Prints one JSON object: per-file milliseconds, input megapixels and output bytes, and peak
RSS in KiB. THUMB_FORMAT=avif and THUMB_SIZE=N (Pillow only) as for the thumbnailer's bench;
THUMB_FIT=centre|attention|entropy (pyvips only) fills the box, cropped as libvips's `crop` says;
each file's time is the fastest of THUMB_REPEATS (3) timings after one warm-up, as there.
"""

import json
import os
import resource
import sys
import time
from io import BytesIO


SIDE = int(os.environ.get("THUMB_SIZE", "256"))
FORMAT = "AVIF" if os.environ.get("THUMB_FORMAT") == "avif" else "JPEG"
REPEATS = max(1, int(os.environ.get("THUMB_REPEATS", "3")))
# libvips's `crop` for a filled box (its smartcrop), or none: fit inside.
CROP = os.environ.get("THUMB_FIT", "contain")


def pillow(data: bytes) -> int:
    from PIL import Image, ImageOps

    image = Image.open(BytesIO(data))
    image.draft("RGB", (SIDE, SIDE))  # shrink-on-load for JPEG
    image = ImageOps.exif_transpose(image)
    image.thumbnail((SIDE, SIDE))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image, mask=image.getchannel("A"))
        image = white
    out = BytesIO()
    image.convert("RGB").save(out, FORMAT, quality=80)
    return out.tell()


def pyvips(data: bytes) -> int:
    import pyvips as vips

    cropped = {} if CROP == "contain" else {"crop": CROP}
    image = vips.Image.thumbnail_buffer(data, 256, height=256, size="down", **cropped)  # auto-rotates
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    return len(image.jpegsave_buffer(Q=80, strip=True))


def decode_limit(data: bytes) -> int:
    """libjpeg-turbo decoding at 1/8 scale and nothing else: the floor for JPEG."""
    from PIL import Image

    image = Image.open(BytesIO(data))
    image.draft("RGB", (image.width // 8, image.height // 8))
    image.load()
    return 0


def megapixels(data: bytes) -> float:
    from PIL import Image

    width, height = Image.open(BytesIO(data)).size
    return width * height / 1e6


def main() -> None:
    peer, files = sys.argv[1], sys.argv[2:]
    run = {"pillow": pillow, "pyvips": pyvips, "decode-limit": decode_limit}[peer]
    if peer == "pyvips":
        import pyvips as vips

        vips.cache_set_max(0)
    results = []
    for path in files:
        data = open(path, "rb").read()
        written = run(data)  # warm-up: libraries loaded, caches primed
        timings = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            run(data)
            timings.append((time.perf_counter() - start) * 1000)
        results.append({"file": path, "ms": min(timings), "mp": megapixels(data), "bytes": written})
    print(json.dumps({"peer": peer, "results": results, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
