"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver (nothing
downloads a browser or a driver): what the browser tests here share. A missing piece stops the
script with the package that provides it."""

import os
import shutil
import sys
import tempfile

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium tries to reach Google's hosts, which this
# machine's closed network refuses, many times at a start.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def failing(name):
    """A `fail(message)` that stops the script, its message headed by `name`."""

    def fail(message):
        sys.exit(f"{name}: {message}")

    return fail


def browser(fail, window_size, extra_flags=()):
    """A new headless Chromium of `window_size` (width, height), with a profile of its own."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        fail("selenium is missing: run `make venv` (requirements-dev.txt pins it)")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(driver_path):
        fail("chromedriver is missing: install Debian's chromium-driver package (apt-get install chromium chromium-driver)")
    if not os.path.exists(CHROMIUM):
        fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="headless-chromium-")
    for flag in [*FLAGS, *extra_flags, f"--window-size={window_size[0]},{window_size[1]}", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    try:
        return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    except WebDriverException as error:
        fail(f"Chromium did not start through {driver_path}: {error.msg}; check Debian's chromium and chromium-driver packages (same version)")
