"""The dashboard in a real headless browser: Debian's chromium driven by Selenium.

Loads the page built from a small real run (conftest.py) and checks that it raises no console
error and shows every panel with data. CI installs chromium first (scripts/install_browser.sh);
locally the test is skipped, saying so, when chromium or chromedriver is missing; under
CI=true it fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from browser_fixtures import CHROMEDRIVER, needs_browser

pytestmark = needs_browser


def _load(browser, html: Path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(html.resolve().as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "1"
    )


def test_page_loads_without_console_errors_and_shows_every_panel(browser, small_run, tmp_path):
    from selenium.webdriver.common.by import By

    _load(browser, small_run.html)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    for experiment in ("coin", "qa", "t2i"):
        for kind in ("curves", "scatter", "detector", "trials"):
            panel = browser.find_element(
                By.CSS_SELECTOR, f"[data-panel='{kind}'][data-experiment='{experiment}']"
            )
            assert panel.is_displayed() and int(panel.get_attribute("data-count")) > 0
            for img in panel.find_elements(By.TAG_NAME, "img"):  # decoded, drawn, not broken
                assert browser.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth > 300", img
                )
                assert img.size["width"] > 300 and img.size["height"] > 150
    verdicts = browser.find_elements(By.CSS_SELECTOR, "#verdicts tbody tr[data-experiment]")
    assert [row.get_attribute("data-experiment") for row in verdicts] == ["coin", "qa", "t2i"]
    assert all("lower" in row.text or "inconclusive" in row.text for row in verdicts)
    shot = Path(os.environ.get("DELTAHALL_DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def test_trials_table_sorts_on_click(browser, small_run):
    from selenium.webdriver.common.by import By

    _load(browser, small_run.html)
    table = browser.find_element(
        By.CSS_SELECTOR, "[data-panel='trials'][data-experiment='coin'] table"
    )
    loss_header = table.find_elements(By.TAG_NAME, "th")[1]

    def losses() -> list[float]:
        return [
            float(r.find_elements(By.TAG_NAME, "td")[1].get_attribute("data-value"))
            for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]

    loss_header.click()
    assert losses() == sorted(losses()) and len(losses()) == 5
    loss_header.click()
    assert losses() == sorted(losses(), reverse=True)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_chromium_is_debians(browser):
    assert shutil.which("chromedriver") in (str(CHROMEDRIVER), None)
    assert browser.capabilities["browserName"] in ("chrome", "chromium")
