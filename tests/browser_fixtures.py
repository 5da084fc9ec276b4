"""Debian's chromium driven by Selenium, for the tests that look at a page as a user does
(the dashboard, `dvc plots show`). Loaded by tests/conftest.py (pytest_plugins).

Locally a test marked `needs_browser` is skipped, saying so, when chromium or chromedriver is
missing (`make browser` installs them); under CI=true it fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,2400",
]

# Under CI (CI=true) a missing browser fails the test: the browser check must never pass silently.
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and os.environ.get("CI") != "true",
    reason="needs Debian chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver):"
    " run `make browser` (scripts/install_browser.sh); CI installs them",
)


@pytest.fixture
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)  # with the driver path below: no Selenium Manager
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
