"""`dvc plots show` over the committed plots/: the page needs no network (Vega inlined by
.dvc/plots/offline.html, which `make setup` writes) and every curve plot draws one line per run
with the loss beside the δ-rate; in headless chromium every plot renders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser_fixtures import needs_browser

REPO = Path(__file__).resolve().parents[1]
DVC = Path(sys.executable).with_name("dvc")
TEMPLATE = REPO / ".dvc/plots/offline.html"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    if not TEMPLATE.exists():  # a checkout before `make setup`
        subprocess.run([sys.executable, str(REPO / "scripts/dvc_plots_template.py")], check=True)
    out = tmp_path_factory.mktemp("plots")
    done = subprocess.run(
        [str(DVC), "plots", "show", "-o", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return out / "index.html"


def _specs(html: str) -> dict[str, dict]:
    found = re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\('#([^']+)'", html, re.S)
    return {plot_id: json.loads(spec) for spec, plot_id in found}


def test_the_page_loads_nothing_from_the_network(page: Path):
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html) and "cdn.jsdelivr" not in html
    assert "window.__dvcPlots" in html  # the queue the inlined bundle replays


def test_curves_put_loss_beside_the_rate_one_line_per_run(page: Path):
    specs = _specs(page.read_text(encoding="utf-8"))
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    curves = [next(iter(p)) for p in declared if isinstance(p, dict)]  # the rest: PNG figures
    assert set(curves) <= set(specs), set(curves) - set(specs)
    coin = specs["coin_observed_n2"]
    values = coin["data"]["values"]
    assert {v["field"].split("::")[-1] for v in values} >= {"train/loss", "val/delta_hall_rate"}
    assert {v["seed"] for v in values} == {"0", "1", "2", "3", "4"}  # the default run's seeds
    assert {"field": "seed", "type": "nominal"} in coin["encoding"]["detail"]
    assert coin["encoding"]["x"]["field"] == "epoch"


@needs_browser
def test_every_plot_renders_in_chromium(page: Path, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.resolve().as_uri())
    n_specs = len(_specs(page.read_text(encoding="utf-8")))
    WebDriverWait(browser, 60).until(
        lambda d: (
            d.execute_script(
                "return document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length"
            )
            >= n_specs
        )
    )
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
