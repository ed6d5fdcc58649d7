"""Times one peer making 256x256 JPEG q80 thumbnails from in-memory bytes.

    python thumbnails_peers.py pillow|pyvips|decode-limit FILE...

Prints one JSON object: per-file milliseconds and input megapixels, and peak RSS in KiB.
"""

import json
import resource
import sys
import time
from io import BytesIO


def pillow(data: bytes) -> None:
    from PIL import Image, ImageOps

    image = Image.open(BytesIO(data))
    image.draft("RGB", (256, 256))  # shrink-on-load for JPEG
    image = ImageOps.exif_transpose(image)
    image.thumbnail((256, 256))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image, mask=image.getchannel("A"))
        image = white
    out = BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)


def pyvips(data: bytes) -> None:
    import pyvips as vips

    image = vips.Image.thumbnail_buffer(data, 256, height=256, size="down")  # auto-rotates
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    image.jpegsave_buffer(Q=80, strip=True)


def decode_limit(data: bytes) -> None:
    """libjpeg-turbo decoding at 1/8 scale and nothing else: the floor for JPEG."""
    from PIL import Image

    image = Image.open(BytesIO(data))
    image.draft("RGB", (image.width // 8, image.height // 8))
    image.load()


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
        run(data)  # warm-up: libraries loaded, caches primed
        start = time.perf_counter()
        run(data)
        results.append({"file": path, "ms": (time.perf_counter() - start) * 1000, "mp": megapixels(data)})
    print(json.dumps({"peer": peer, "results": results, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
