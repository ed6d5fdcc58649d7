"""Times one peer making 256x256 JPEG q80 thumbnails from in-memory bytes.

    python thumbnails_peers.py pillow|pyvips|decode-limit FILE...

Prints one JSON object: per-file milliseconds, input megapixels and output bytes, and peak
RSS in KiB. THUMB_FORMAT=avif and THUMB_SIZE as for the thumbnailer's bench: a box's side
(256), or several (256,1024), which each peer makes its best way: one decode for the
largest box, each smaller thumbnail resized from the next larger one, not from the file;
THUMB_FIT=centre|attention|entropy (pyvips only) fills the box, cropped as libvips's `crop` says;
each file's time is the fastest of THUMB_REPEATS (3) timings after one warm-up, as there.
"""

import json
import os
import resource
import sys
import time
from io import BytesIO


# The boxes' sides, largest first: each smaller thumbnail is made from the larger one's pixels.
SIDES = sorted((int(side) for side in os.environ.get("THUMB_SIZE", "256").split(",")), reverse=True)
FORMAT = "AVIF" if os.environ.get("THUMB_FORMAT") == "avif" else "JPEG"
REPEATS = max(1, int(os.environ.get("THUMB_REPEATS", "3")))
# libvips's `crop` for a filled box (its smartcrop), or none: fit inside.
CROP = os.environ.get("THUMB_FIT", "contain")


def pillow(data: bytes) -> int:
    from PIL import Image, ImageOps

    image = Image.open(BytesIO(data))
    image.draft("RGB", (SIDES[0], SIDES[0]))  # shrink-on-load for JPEG
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image, mask=image.getchannel("A"))
        image = white
    image = image.convert("RGB")
    written = 0
    for side in SIDES:
        image.thumbnail((side, side))  # in place: the next, smaller box starts from this one
        out = BytesIO()
        image.save(out, FORMAT, quality=80)
        written += out.tell()
    return written


def pyvips(data: bytes) -> int:
    import pyvips as vips

    cropped = {} if CROP == "contain" else {"crop": CROP}
    image = vips.Image.thumbnail_buffer(data, SIDES[0], height=SIDES[0], size="down", **cropped)  # auto-rotates
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if len(SIDES) > 1:
        image = image.copy_memory()  # decoded once, not again for each smaller box
    written = 0
    for side in SIDES:
        if side != SIDES[0]:
            image = image.thumbnail_image(side, height=side, size="down", **cropped).copy_memory()
        written += len(image.jpegsave_buffer(Q=80, strip=True))
    return written


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
