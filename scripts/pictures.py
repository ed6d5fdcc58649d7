"""The docs' pictures, made from the demo's output so that none drifts from what the functions do.

    make pictures     # runs the cost report's, the thumbnailer's and the photos app's demos, then this script

Writes, under docs/images/ (committed; kept small: palette PNGs and a JPEG):

- cost-report-email.png: the demo's e-mail (demo-output/cost-report-email.html) as headless
  Chromium renders it, the way a mail client that shows HTML does;
- cost-report-slack.png: the demo's Slack message (demo-output/cost-report-slack.json)
  turned into HTML here and rendered by Chromium: a rendering of its Block Kit JSON, not a
  screenshot of Slack, and the picture says so;
- thumbnails.jpg: each demo photo beside its 256x256 thumbnail and its ThumbHash placeholder
  (decoded here from the record's text, as an app would), and one rejection record;
- display-p3.jpg: the demo's photo declared Display P3, its values shown as if sRGB beside the
  thumbnailer's thumbnail, converted to sRGB;
- crops.jpg: the demo's photograph whose attention crop moved furthest from the centre, with both
  squares drawn on it as the records give them, beside the two 256x256 avatars;
- eks-week.png and eks-waves.png: a week of a schedule tag and the start waves of dependent
  clusters, as the EKS scheduler's own code decides them (its `pictures` example prints them);
- bench-thumbnails.png: the thumbnail benchmark's images/s beside its peers', from the table
  recorded in docs/performance.md;
- photos-gallery.png: the photos page as headless Chromium shows alice's gallery in the demo
  (demo-output/photos-gallery.png, taken by tests/browser/photos_page.py), as a palette PNG;
- photo-trace.svg and organization-trace.svg: the X-Ray waterfalls of one photo (upload to
  announcement) and of an organization run, as the demo drew them from what its local daemon
  received (scripts/traces.py).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps
from pillow_heif import register_heif_opener

register_heif_opener()  # the demo's HEIC uploads are sources too

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo-output"
IMAGES = ROOT / "docs" / "images"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
# The shortcodes the cost report's messages use.
EMOJI = {":rotating_light:": "\U0001F6A8", ":warning:": "\u26A0\uFE0F", ":white_check_mark:": "\u2705",
         ":chart_with_upwards_trend:": "\U0001F4C8", ":chart_with_downwards_trend:": "\U0001F4C9"}


def screenshot(page: Path, out: Path, width: int) -> None:
    """The page as Chromium draws it, cropped to what it holds, as a palette PNG."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        raise SystemExit("make pictures needs Chromium: apt-get install chromium (make pictures does it as root)")
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as shots:
        shot = Path(shots) / "page.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},2400",
                        f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True)
        image = Image.open(shot).convert("RGB")
    # Crop the empty page below the content: rows the colour of the bottom-left pixel.
    background = Image.new("RGB", image.size, image.getpixel((0, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox() or (0, 0, *image.size)
    cropped = image.crop((0, 0, image.width, min(image.height, box[3] + 16)))
    cropped.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn as HTML: *bold*, _italic_, `code`, <url|label>, line breaks, shortcodes."""
    for code, emoji in EMOJI.items():
        text = text.replace(code, emoji)
    text = html.escape(text)
    text = re.sub(r"&lt;(https?://[^|&]+)\|([^&]+)&gt;", r'<a href="\1">\2</a>', text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", text)
    return text.replace("\n", "<br>")


def slack_html(message: dict) -> str:
    """A Block Kit message drawn as Slack lays it out: header, sections, two-column fields, context, dividers."""
    parts = []
    for block in message.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            parts.append(f'<div class="header">{html.escape(block["text"]["text"])}</div>')
        elif kind == "section":
            if "text" in block:
                parts.append(f'<div class="section">{mrkdwn(block["text"]["text"])}</div>')
            if "fields" in block:
                cells = "".join(f'<div class="field">{mrkdwn(f["text"])}</div>' for f in block["fields"])
                parts.append(f'<div class="fields">{cells}</div>')
        elif kind == "context":
            texts = " ".join(mrkdwn(e.get("text", "")) for e in block.get("elements", []))
            parts.append(f'<div class="context">{texts}</div>')
        elif kind == "divider":
            parts.append("<hr>")
    if not parts and "text" in message:
        parts.append(f'<div class="section">{mrkdwn(message["text"])}</div>')
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #fff; font: 15px/1.46 "Lato", "Helvetica Neue", Arial, sans-serif; color: #1d1c1d; }}
.message {{ display: flex; gap: 8px; padding: 16px 20px; width: 640px; }}
.avatar {{ width: 36px; height: 36px; border-radius: 6px; background: #2f6f8f; color: #fff; font-weight: 700;
          display: flex; align-items: center; justify-content: center; flex: none; }}
.who {{ font-weight: 900; }} .app {{ font-size: 10px; background: #e8e8e8; color: #616061; padding: 1px 3px;
         border-radius: 2px; margin-left: 4px; vertical-align: 2px; }}
.header {{ font-size: 18px; font-weight: 900; margin: 4px 0 6px; }}
.section {{ margin: 6px 0; }} .fields {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 8px 0; }}
.context {{ color: #616061; font-size: 12px; margin: 6px 0; }} hr {{ border: 0; border-top: 1px solid #ddd; }}
code {{ font: 12px Menlo, Consolas, monospace; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px;
       padding: 1px 3px; color: #e01e5a; }}
.note {{ color: #888; font-size: 11px; margin: 0 20px 12px 64px; }}
</style><div class="message"><div class="avatar">$</div><div><span class="who">Cost report</span><span class="app">APP</span>
{"".join(parts)}</div></div>
<div class="note">A rendering of the message's Block Kit JSON (demo-output/cost-report-slack.json), not a Slack screenshot.</div>"""


def thumbhash_to_image(text: str) -> Image.Image:
    """A ThumbHash decoded to its small RGBA picture (Evan Wallace's reference decoder, in Python)."""
    hash_bytes = base64.b64decode(text + "=" * (-len(text) % 4))
    header24 = hash_bytes[0] | (hash_bytes[1] << 8) | (hash_bytes[2] << 16)
    header16 = hash_bytes[3] | (hash_bytes[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = header24 >> 23
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    is_landscape = header16 >> 15
    lx = max(3, (5 if has_alpha else 7) if is_landscape else header16 & 7)
    ly = max(3, header16 & 7 if is_landscape else (5 if has_alpha else 7))
    a_dc = (hash_bytes[5] & 15) / 15 if has_alpha else 1
    a_scale = (hash_bytes[5] >> 4) / 15
    ac_start = 6 if has_alpha else 5
    index = 0

    def channel(nx: int, ny: int, scale: float) -> list[float]:
        nonlocal index
        ac = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                nibble = (hash_bytes[ac_start + (index >> 1)] >> ((index & 1) << 2)) & 15
                ac.append((nibble / 7.5 - 1) * scale)
                index += 1
                cx += 1
        return ac

    l_ac = channel(lx, ly, l_scale)
    p_ac = channel(3, 3, p_scale * 1.25)
    q_ac = channel(3, 3, q_scale * 1.25)
    a_ac = channel(5, 5, a_scale) if has_alpha else []
    header = hash_bytes[3]
    ratio_lx = (5 if has_alpha else 7) if hash_bytes[4] & 0x80 else header & 7
    ratio_ly = header & 7 if hash_bytes[4] & 0x80 else (5 if has_alpha else 7)
    ratio = ratio_lx / ratio_ly
    w = round(32 if ratio > 1 else 32 * ratio)
    h = round(32 / ratio if ratio > 1 else 32)
    image = Image.new("RGBA", (w, h))
    pixels = image.load()
    for y in range(h):
        for x in range(w):
            lum, p, q, a = l_dc, p_dc, q_dc, a_dc
            fx = [math.cos(math.pi / w * (x + 0.5) * cx) for cx in range(max(lx, 5 if has_alpha else 3))]
            fy = [math.cos(math.pi / h * (y + 0.5) * cy) for cy in range(max(ly, 5 if has_alpha else 3))]
            j = 0
            for cy in range(ly):
                cx = 0 if cy else 1
                while cx * ly < lx * (ly - cy):
                    lum += l_ac[j] * fx[cx] * fy[cy] * 2
                    j += 1
                    cx += 1
            j = 0
            for cy in range(3):
                for cx in range(0 if cy else 1, 3 - cy):
                    f = fx[cx] * fy[cy] * 2
                    p += p_ac[j] * f
                    q += q_ac[j] * f
                    j += 1
            if has_alpha:
                j = 0
                for cy in range(5):
                    for cx in range(0 if cy else 1, 5 - cy):
                        a += a_ac[j] * fx[cx] * fy[cy] * 2
                        j += 1
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            pixels[x, y] = tuple(round(max(0.0, 255 * min(1.0, v))) for v in (r, g, b, a))
    return image


def fitted(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    return copy


def thumbnail_path(record: dict) -> Path | None:
    """The record's 256x256 thumbnail, as the demo copied it under demo-output/thumbnails/."""
    for thumbnail in record.get("thumbnails", []):
        key = thumbnail.get("key") if isinstance(thumbnail, dict) else str(thumbnail)
        if key and "256x256" in key:
            local = DEMO / "thumbnails" / key.removeprefix("thumbnails/")
            if local.exists():
                return local
    return None


def font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans where it is installed (it has the accents of the demo's keys), else Pillow's own."""
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def photo_grid(demo: dict, out: Path) -> None:
    """Rows of: the upload, its thumbnail, its placeholder; then one rejection record as text."""
    sources = {u["key"]: u["source"] for u in demo["uploads"]}
    rows, seen = [], set()
    for record in sorted(demo["records"], key=lambda r: r["key"]):
        source, thumbnail = sources.get(record["key"]), thumbnail_path(record)
        if record.get("status") != "ready" or not record.get("placeholder") or not source or not thumbnail:
            continue
        # One photo per picture (the demo uploads some twice, at two sizes), and none nearly blank.
        family = re.match(r"[A-Za-z]*", Path(source).name).group(0).lower()
        thumb = Image.open(thumbnail).convert("L")
        if family in seen or max(thumb.getextrema()) - min(thumb.getextrema()) < 64:
            continue
        seen.add(family)
        rows.append((record, Path(source), thumbnail))
    rows = rows[:4]
    if not rows:
        raise SystemExit("no thumbnailed photo in demo-output/photos.json: run the thumbnailer's demo first")
    cell, pad, label_h = 256, 12, 22
    title_font, small = font(14), font(12)
    rejection = json.dumps(demo["rejections"][0], indent=2, ensure_ascii=False) if demo["rejections"] else ""
    text_lines = [line[:110] for line in rejection.splitlines()][:12]
    pictures = []
    for record, source, thumbnail in rows:
        with Image.open(source) as upload:
            shown = fitted(ImageOps.exif_transpose(upload).convert("RGB"), (cell, cell))
        thumb = Image.open(thumbnail).convert("RGB")
        placeholder = thumbhash_to_image(record["placeholder"]).resize(thumb.size, Image.Resampling.BILINEAR)
        flat = Image.new("RGB", placeholder.size, "white")
        flat.paste(placeholder, mask=placeholder.getchannel("A"))
        pictures.append((record, (shown, thumb, flat)))
    row_heights = [label_h + max(image.height for image in images) for _, images in pictures]
    width = pad + 3 * (cell + pad)
    height = (pad + label_h + sum(h + pad for h in row_heights)
              + (label_h + 16 * len(text_lines) + pad if text_lines else 0))
    grid = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(grid)
    for column, title in enumerate(("upload (scaled down)", "thumbnail 256x256", "placeholder (ThumbHash)")):
        draw.text((pad + column * (cell + pad), pad), title, fill="#333", font=title_font)
    top = pad + label_h
    for (record, images), row_height in zip(pictures, row_heights):
        size = f"{record.get('width', '?')}x{record.get('height', '?')} {record.get('format', '')}".strip()
        draw.text((pad, top), f"{record['key']}  ({size})", fill="#555", font=small)
        for column, image in enumerate(images):
            grid.paste(image, (pad + column * (cell + pad) + (cell - image.width) // 2, top + label_h))
        top += row_height + pad
    if text_lines:
        draw.text((pad, top), "a rejected upload's record (thumbnails/_failed/<key>.json):", fill="#333", font=title_font)
        for i, line in enumerate(text_lines):
            draw.text((pad, top + label_h + 16 * i), line, fill="#222", font=small)
    grid.save(out, quality=78, optimize=True, progressive=True)


def eks_pictures(week_out: Path, waves_out: Path) -> None:
    """A week of a schedule tag, and dependency waves, from the scheduler's own decisions."""
    printed = subprocess.run(["cargo", "run", "--quiet", "--locked", "-p", "eks-scheduler", "--example", "pictures"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
    facts = json.loads(printed)
    slots, per_slot = facts["slots"], facts["minutes_per_slot"]
    per_day = 24 * 60 // per_slot
    left, top, hour_px, row_h, gap = 96, 58, 26, 26, 10
    title = f"eks-scheduler/schedule = {facts['tag']}"
    width = max(left + 24 * hour_px + 24, 24 + round(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title, font=font(13))))
    height = top + 7 * (row_h + gap) + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 10), title, fill="#222", font=font(13))
    draw.text((12, 30), f"the week from {facts['week_from']}: running (green) and stopped (grey), as the "
              "hourly auto run decides", fill="#555", font=font(12))
    colours = {"start": "#3c9d5d", "stop": "#b9bec6", None: "#eeeeee"}
    days = ["Mon 21", "Tue 22", "Wed 23", "Thu 24", "Fri 25", "Sat 26", "Sun 27"]
    for day in range(7):
        y = top + day * (row_h + gap)
        draw.text((12, y + 6), days[day], fill="#333", font=font(12))
        for slot in range(per_day):
            x = left + slot * hour_px * per_slot // 60
            draw.rectangle((x, y, x + hour_px * per_slot // 60, y + row_h), fill=colours[slots[day * per_day + slot]])
    for hour in range(0, 25, 3):
        x = left + hour * hour_px
        draw.line((x, top - 4, x, top + 7 * (row_h + gap) - gap), fill="#888")
        draw.text((x - 8, top + 7 * (row_h + gap)), f"{hour:02d}", fill="#555", font=font(11))
    image.quantize(colors=32).save(week_out, optimize=True)

    waves, dependencies = facts["start_waves"], facts["dependencies"]
    box_w, box_h, col_gap, row_gap = 120, 34, 80, 18
    rows = max(len(wave) for wave in waves)
    width = 24 + len(waves) * (box_w + col_gap) - col_gap + 24
    height = 70 + rows * (box_h + row_gap) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 10), "start: wave by wave, left to right, each cluster after what its dependency tag names;",
              fill="#222", font=font(13))
    draw.text((12, 30), "stop: the same waves, right to left", fill="#222", font=font(13))
    where = {}
    for column, wave in enumerate(waves):
        x = 24 + column * (box_w + col_gap)
        draw.text((x, 54), f"wave {column + 1}", fill="#555", font=font(12))
        for row, cluster in enumerate(wave):
            y = 74 + row * (box_h + row_gap)
            where[cluster] = (x, y)
    for cluster, needs in dependencies.items():
        for need in needs:
            if cluster in where and need in where:
                (x1, y1), (x2, y2) = where[need], where[cluster]
                draw.line((x1 + box_w, y1 + box_h // 2, x2, y2 + box_h // 2), fill="#7a8699", width=2)
                draw.polygon([(x2, y2 + box_h // 2), (x2 - 8, y2 + box_h // 2 - 5), (x2 - 8, y2 + box_h // 2 + 5)],
                             fill="#7a8699")
    for cluster, (x, y) in where.items():
        draw.rounded_rectangle((x, y, x + box_w, y + box_h), radius=6, fill="#e8f0fb", outline="#4a78b5", width=2)
        draw.text((x + 10, y + 9), cluster, fill="#1d2b3a", font=font(13))
    image.quantize(colors=32).save(waves_out, optimize=True)


def bench_chart(out: Path) -> None:
    """Images/s of ours and the peers per input, from the benchmark table recorded in docs/performance.md."""
    text = (ROOT / "docs" / "performance.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in ("jpeg baseline", "jpeg progressive", "png/webp", "jpeg (all)") \
                and cells[1] in ("thumbnailer", "pillow", "pyvips", "sharp"):
            rows.setdefault(cells[0], {}).setdefault(cells[1], float(cells[2]))
    if not rows:
        raise SystemExit("docs/performance.md has no benchmark table (| input | implementation | images/s | ...)")
    colours = {"thumbnailer": "#d9480f", "pillow": "#4a78b5", "pyvips": "#6f9bd1", "sharp": "#9fbde3"}
    bar_h, group_gap, left, scale_w = 16, 18, 140, 520
    highest = max(v for group in rows.values() for v in group.values())
    height = 50 + sum(len(group) * bar_h + group_gap for group in rows.values()) + 20
    image = Image.new("RGB", (left + scale_w + 150, height + 16), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 10), "256x256 JPEG thumbnails a second, one core (make bench-thumbnails; higher is better)",
              fill="#222", font=font(13))
    draw.text((12, 28), "the figures recorded in docs/performance.md", fill="#555", font=font(12))
    y = 56
    for group, figures in rows.items():
        draw.text((12, y + 2), group, fill="#333", font=font(12))
        for name in ("thumbnailer", "pillow", "pyvips", "sharp"):
            if name not in figures:
                continue
            length = round(scale_w * figures[name] / highest)
            draw.rectangle((left, y, left + length, y + bar_h - 3), fill=colours[name])
            draw.text((left + length + 6, y), f"{name} {figures[name]:.1f}", fill="#333", font=font(11))
            y += bar_h
        y += group_gap
    image.quantize(colors=32).save(out, optimize=True)


def display_p3(demo: dict, out: Path) -> None:
    """A photo declared Display P3: its values shown as if sRGB (a thumbnailer that ignores the
    profile), beside the thumbnailer's, converted to sRGB."""
    sources = {u["key"]: u["source"] for u in demo["uploads"]}
    record = next((r for r in demo["records"] if "display-p3" in r["key"] and r.get("status") == "ready"), None)
    thumbnail = thumbnail_path(record) if record else None
    if not record or not thumbnail:
        raise SystemExit("the demo's Display P3 upload has no thumbnail in demo-output/photos.json")
    with Image.open(sources[record["key"]]) as upload:  # the same values, without the profile
        ignored = fitted(ImageOps.exif_transpose(upload).convert("RGB"), (256, 256))
    converted = Image.open(thumbnail).convert("RGB")
    pad, label_h = 12, 40
    image = Image.new("RGB", (pad * 3 + ignored.width + converted.width, pad * 2 + label_h + converted.height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((pad, pad), "profile ignored\n(values shown as sRGB)", fill="#333", font=font(12))
    draw.text((pad * 2 + ignored.width, pad), "the thumbnailer's\n(Display P3 converted to sRGB)", fill="#333", font=font(12))
    image.paste(ignored, (pad, pad + label_h))
    image.paste(converted, (pad * 2 + ignored.width, pad + label_h))
    image.save(out, quality=82, optimize=True)


def crops(demo: dict, out: Path) -> None:
    """The photo whose attention crop moved furthest from its centre crop: the photo with the two
    squares its records name (centre grey, attention orange), beside the two avatars."""
    sources = {u["key"]: u["source"] for u in demo["uploads"]}
    moved = lambda row: (abs(row["attention"]["left"] - row["centre"]["left"]) / row["centre"]["width"]  # noqa: E731
                         + abs(row["attention"]["top"] - row["centre"]["top"]) / row["centre"]["height"])
    # Photographs (JPEG): the demo's PNG and WebP wallpapers are patterns, with no subject to find.
    rows = [row for row in demo.get("avatars", []) if sources.get(row["key"]) and row["key"].endswith(".jpg")]
    if not rows:
        raise SystemExit("the demo's avatars are missing from demo-output/photos.json: run the thumbnailer's demo")
    row = max(rows, key=moved)
    with Image.open(sources[row["key"]]) as upload:
        photo = ImageOps.exif_transpose(upload).convert("RGB")
    height = 300
    scale = height / photo.height
    shown = photo.resize((round(photo.width * scale), height), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(shown)
    for crop, colour in (("centre", "#bbbbbb"), ("attention", "#e69f00")):
        area = row[crop]
        box = [area["left"] * scale, area["top"] * scale, (area["left"] + area["width"]) * scale - 1,
               (area["top"] + area["height"]) * scale - 1]
        draw.rectangle(box, outline=colour, width=4)
    pad, label_h, side = 12, 44, 256
    avatars = [Image.open(row[crop]["file"]).convert("RGB") for crop in ("centre", "attention")]
    width = pad * 4 + shown.width + 2 * side
    image = Image.new("RGB", (width, pad * 2 + label_h + height), "white")
    text = ImageDraw.Draw(image)
    text.text((pad, pad), f"{row['key'].rsplit('/', 1)[-1]} ({row['photo']}): the squares each crop keeps",
              fill="#333", font=font(12))
    image.paste(shown, (pad, pad + label_h))
    for index, (avatar, label, colour) in enumerate(zip(avatars, ("centre", "attention"), ("#777777", "#b07800"))):
        x = pad * (2 + index) + shown.width + index * side
        text.text((x, pad + 20), f"{label} crop", fill=colour, font=font(12))
        image.paste(avatar, (x, pad + label_h))
    image.save(out, quality=82, optimize=True)


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    traces = [DEMO / "photo-trace.svg", DEMO / "organization-trace.svg"]
    needed = [DEMO / "cost-report-email.html", DEMO / "cost-report-slack.json", DEMO / "photos.json",
              DEMO / "photos-gallery.png", *traces]
    missing = [str(path.relative_to(ROOT)) for path in needed if not path.exists()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing: run the demo first "
                         "(make pictures runs `scripts/demo.py --only cost-report --only thumbnailer --only photos-app --only organization`)")
    screenshot(DEMO / "cost-report-email.html", IMAGES / "cost-report-email.png", 800)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "slack.html"
        page.write_text(slack_html(json.loads((DEMO / "cost-report-slack.json").read_text())))
        screenshot(page, IMAGES / "cost-report-slack.png", 700)
    demo = json.loads((DEMO / "photos.json").read_text())
    photo_grid(demo, IMAGES / "thumbnails.jpg")
    display_p3(demo, IMAGES / "display-p3.jpg")
    crops(demo, IMAGES / "crops.jpg")
    eks_pictures(IMAGES / "eks-week.png", IMAGES / "eks-waves.png")
    bench_chart(IMAGES / "bench-thumbnails.png")
    gallery = Image.open(DEMO / "photos-gallery.png").convert("RGB")
    gallery.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(IMAGES / "photos-gallery.png", optimize=True)
    for trace in traces:
        shutil.copyfile(trace, IMAGES / trace.name)
    for path in sorted(IMAGES.iterdir()):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
