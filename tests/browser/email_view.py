"""An email as a mail client shows it: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver.

Reads a raw MIME message, takes its HTML part, and resolves each `cid:` reference to the inline
part with that Content-ID (as a mail client does, here as a data: URL: nothing is fetched), then
loads the page and reports every image as the browser decoded and laid it out. With
--without-images the images are blocked, as many clients do by default, and the report says
what text is left. Prints one JSON line:
{"images": [{"cid", "natural_width", "natural_height", "width", "height", "alt"}], "text": "..."}
and with --screenshot also writes a PNG of the page.

    python tests/browser/email_view.py --eml message.eml [--screenshot email.png] [--without-images]

Run by the integration test `cost_report::the_email_...` (make test) and by the demo for the
picture in the docs.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import re
import shutil
import tempfile

from headless import browser, failing

fail = failing("email view")


def html_with_inline_parts(raw: bytes, without_images: bool) -> str:
    """The message's HTML with every `cid:` reference replaced by its part's bytes."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html_part = message.get_body(preferencelist=("html",))
    if html_part is None:
        fail("the message has no text/html part")
    html = html_part.get_content()
    inline = {}
    for part in message.walk():
        content_id = part.get("Content-ID")
        if content_id:
            inline[content_id.strip().strip("<>")] = part
    missing = []

    def resolve(match):
        cid = match.group(1)
        part = inline.get(cid)
        if part is None:
            missing.append(cid)
            return match.group(0)
        if without_images:
            return 'src="about:blank" data-blocked="true"'
        data = base64.b64encode(part.get_payload(decode=True)).decode()
        return f'src="data:{part.get_content_type()};base64,{data}" data-cid="{cid}"'

    html = re.sub(r'src="cid:([^"]+)"', resolve, html)
    if missing:
        fail(f"the HTML refers to {missing}, which no part of the message carries as its Content-ID")
    return html


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eml", required=True)
    parser.add_argument("--screenshot")
    parser.add_argument("--without-images", action="store_true")
    args = parser.parse_args()
    with open(args.eml, "rb") as file:
        html = html_with_inline_parts(file.read(), args.without_images)
    folder = tempfile.mkdtemp(prefix="email-view-page-")
    page = os.path.join(folder, "email.html")
    with open(page, "w", encoding="utf-8") as file:
        file.write(html)
    # One CSS pixel a pixel, at a desktop client's width.
    driver = browser(fail, (800, 1000), ["--force-device-scale-factor=1"])
    try:
        driver.get(f"file://{page}")
        images = driver.execute_script(
            """return Array.from(document.images).map(img => ({
                cid: img.dataset.cid || null, natural_width: img.naturalWidth, natural_height: img.naturalHeight,
                width: img.getBoundingClientRect().width, height: img.getBoundingClientRect().height,
                alt: img.alt, complete: img.complete}))"""
        )
        text = driver.execute_script("return document.body.innerText")
        if args.screenshot:
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(800, min(height + 40, 4000))
            driver.save_screenshot(args.screenshot)
    finally:
        driver.quit()
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"images": images, "text": text}))


if __name__ == "__main__":
    main()
