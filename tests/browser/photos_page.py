"""The photos page in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (nothing downloads a browser or a driver).

Signs in, uploads the given files through the file input, waits for each to show its placeholder
and then its thumbnail (or its rejection), pages through the gallery, deletes one photo, and checks
the page at a phone's width. Exits non-zero with what it saw when the page does not do that; on
success prints one JSON line: {"ids": {file name: photo id}, "deleted": id}.

    python tests/browser/photos_page.py --url http://127.0.0.1:PORT/ --username alice --password ... \
        --upload beach.jpg --upload flower.png --upload broken.jpg --rejected broken.jpg --delete flower.png \
        [--page-size 2] [--screenshot gallery.png] [--hosted http://127.0.0.1:PORT]

With --hosted (the hosted sign-in's base URL) it signs in through the hosted sign-in page instead
(the authorization code flow with PKCE), checks that the code left the address bar, that an answer
this tab did not ask for is refused, and that signing out ends the hosted session too.

Run by the integration test `photos_api::the_page_...` (make test), which then checks what S3 and the
photo table hold, and by the demo for its screenshot.
"""

import argparse
import json
import os
import time

from headless import browser as headless_browser, failing

fail = failing("photos page")


def browser():
    return headless_browser(fail, (1280, 1000))


def wait_for(driver, what, condition, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition(driver)
            if last:
                return last
        except Exception as error:  # an element replaced while read: read again
            last = error
        time.sleep(0.2)
    fail(f"timed out waiting for {what} (last seen: {last!r}) at {driver.current_url}; the page's log: {page_log(driver)}; "
         f"its text: {driver.find_element('tag name', 'body').text[:500]!r}")


def page_log(driver):
    try:
        return [entry["message"] for entry in driver.get_log("browser")][-5:]
    except Exception:
        return "unavailable"


def cards(driver):
    from selenium.webdriver.common.by import By

    found = []
    for li in driver.find_elements(By.CSS_SELECTOR, "#photos > li"):
        found.append(
            {
                "id": li.get_attribute("data-id"),
                "name": li.find_element(By.CSS_SELECTOR, ".name").text,
                "status": li.get_attribute("data-status"),
                "shown": li.get_attribute("data-shown"),
                "placeholder_shown": li.get_attribute("data-placeholder-shown"),
                "state": li.find_element(By.CSS_SELECTOR, ".state").text,
                "background": li.find_element(By.CSS_SELECTOR, "figure").value_of_css_property("background-color"),
            }
        )
    return found


def sign_in(driver, args):
    from selenium.webdriver.common.by import By

    driver.get(args.url)
    if not args.hosted:
        # Sign in by keyboard: the fields in order, Enter submits.
        driver.find_element(By.ID, "username").send_keys(args.username)
        driver.find_element(By.ID, "password").send_keys(args.password + "\n")
        return
    # An answer this tab never asked for (a forged or replayed code) is refused before any
    # token request, and leaves the address bar.
    driver.get(f"{args.url}?code=stolen&state=forged")
    wait_for(driver, "the refusal of a sign-in this tab did not start",
             lambda d: "not started from this page" in d.find_element(By.ID, "sign-in-error").text)
    if "code=" in driver.current_url:
        fail(f"a refused code stayed in the address bar: {driver.current_url}")
    driver.find_element(By.ID, "hosted-sign-in").click()
    wait_for(driver, "the hosted sign-in page", lambda d: d.current_url.startswith(f"{args.hosted}/"))
    wait_for(driver, "the sign-in form", lambda d: d.find_element(By.NAME, "login"))
    # The provider refuses a request without a challenge; its form lists the request it took.
    received = driver.page_source
    for needed in ("code_challenge_method", "S256", "code_challenge", "state"):
        if needed not in received:
            fail(f"the sign-in request the provider received lacks {needed}")
    driver.find_element(By.NAME, "login").send_keys(args.username)
    driver.find_element(By.NAME, "password").send_keys(args.password + "\n")
    # The provider asks once whether the page may have the account (Cognito's does not).
    def back_or_consent(d):
        if d.current_url.startswith(args.url):
            return True
        for button in d.find_elements(By.CSS_SELECTOR, "button[type=submit]"):
            if button.text.strip() == "Continue":
                button.click()
        return False
    wait_for(driver, "the way back to the page", back_or_consent)


def signed_out_of_the_hosted_page(driver, args):
    from selenium.webdriver.common.by import By
    from urllib.parse import parse_qs, urlsplit

    driver.find_element(By.ID, "sign-out").click()
    wait_for(driver, "the hosted sign-out", lambda d: d.current_url.startswith(f"{args.hosted}/logout"))
    query = parse_qs(urlsplit(driver.current_url).query)
    if query.get("logout_uri") != [args.url] or not query.get("client_id"):
        fail(f"signing out did not end the hosted session for this page: {driver.current_url}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--upload", action="append", default=[])
    parser.add_argument("--rejected", action="append", default=[], help="uploads the thumbnailer must reject")
    parser.add_argument("--delete", help="the upload to delete at the end")
    parser.add_argument("--page-size", type=int, default=0, help="the API's PAGE_SIZE: the gallery pages by it")
    parser.add_argument("--expect", type=int, default=0, help="without uploads: the photos the gallery already holds")
    parser.add_argument("--screenshot")
    parser.add_argument("--hosted", help="the hosted sign-in's base URL: sign in there (PKCE), not with the form")
    args = parser.parse_args()

    from selenium.webdriver.common.by import By

    driver = browser()
    try:
        sign_in(driver, args)
        wait_for(driver, "the gallery after signing in", lambda d: d.find_element(By.ID, "gallery-section").is_displayed())
        if "code=" in driver.current_url:
            fail(f"the sign-in's code stayed in the address bar: {driver.current_url}")

        if not args.upload:
            # A gallery that is there already: wait until each photo shows its thumbnail or rejection.
            def shown(d):
                now = cards(d)
                done = all(c["status"] == "rejected" or c["shown"] == "thumbnail" for c in now)
                return len(now) == args.expect and done
            wait_for(driver, f"{args.expect} photos to show", shown)
            if args.screenshot:
                driver.save_screenshot(args.screenshot)
            print(json.dumps({"ids": {}, "deleted": None}))
            return

        names = [os.path.basename(path) for path in args.upload]
        driver.find_element(By.ID, "files").send_keys("\n".join(os.path.abspath(path) for path in args.upload))

        def settled(d):
            seen = {card["name"]: card for card in cards(d)}
            if set(seen) != set(names):
                return None
            for name, card in seen.items():
                wanted = "rejected" if name in args.rejected else "ready"
                if card["status"] != wanted or (wanted == "ready" and card["shown"] != "thumbnail"):
                    return None
            return seen

        seen = wait_for(driver, f"{names} to show their thumbnails or rejections", settled)
        for name, card in seen.items():
            if name in args.rejected:
                if not card["state"].startswith("Rejected:"):
                    fail(f"{name} is rejected but its card says {card['state']!r}")
            elif card["placeholder_shown"] != "true" or card["background"] in ("rgba(0, 0, 0, 0)", "transparent"):
                fail(f"{name} showed no placeholder in its colour before its thumbnail: {card}")
        ids = {name: card["id"] for name, card in seen.items()}

        if args.page_size and len(names) > args.page_size:
            driver.refresh()
            wait_for(driver, f"the first page of {args.page_size}", lambda d: len(cards(d)) == args.page_size)
            more = driver.find_element(By.ID, "more")
            if not more.is_displayed():
                fail("the gallery has more photos than a page but shows no 'Show more photos' button")
            more.click()
            wait_for(driver, "the next page", lambda d: len(cards(d)) == len(names))
            wait_for(driver, "the last page to hide 'Show more photos'", lambda d: not d.find_element(By.ID, "more").is_displayed())

        if args.screenshot:
            driver.save_screenshot(args.screenshot)

        deleted = None
        if args.delete:
            deleted = ids[args.delete]
            for li in driver.find_elements(By.CSS_SELECTOR, "#photos > li"):
                if li.get_attribute("data-id") == deleted:
                    li.find_element(By.CSS_SELECTOR, ".actions button").click()
            wait_for(driver, f"{args.delete} to leave the gallery", lambda d: deleted not in [card["id"] for card in cards(d)])

        # A phone's width: the gallery fits, nothing scrolls sideways.
        driver.set_window_size(390, 844)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            fail(f"at 390 px wide the page is {overflow} px wider than the screen")
        if args.hosted:
            signed_out_of_the_hosted_page(driver, args)
        print(json.dumps({"ids": ids, "deleted": deleted}))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
