"""The MLflow UI as a user opens it (issue 16), in headless Debian chromium over the store of
the smoke coin stages and coin_report: the `coin` experiment opens on its runs with the Datasets
column filled, a run page shows its dataset and its logged model, the `reports` run shows
Figure 3.

MLflow 3.17's UI picks GenAI or Model-training pages by a per-browser setting (default GenAI),
not by the experiment's kind; `?workflowType=machine_learning` is how our links open runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from browser_fixtures import needs_browser
from deltahall.cli import main

pytestmark = [pytest.mark.slow, needs_browser]
RUNS_VIEW = "workflowType=machine_learning"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ui(workdir: Path, mlflow_uri: str):
    for args in (
        ["coin-data", "--n-choose", "2"],
        ["coin-train", "--n-choose", "2"],
        ["coin-data", "--n-choose", "3"],
        ["coin-train", "--n-choose", "3"],
        ["coin-data", "--variant", "hidden"],
        ["coin-train", "--variant", "hidden"],
        ["coin-report"],
    ):
        assert main(args) == 0, args
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", mlflow_uri, "--host", "127.0.0.1"]
        + ["--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("mlflow server did not answer /health in 120 s")
        yield base, mlflow.MlflowClient(mlflow_uri)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _open(browser, url: str, *texts: str, timeout: float = 60) -> str:
    browser.get(url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        page = browser.page_source
        if all(text in page for text in texts):
            return page
        time.sleep(1)
    missing = [t for t in texts if t not in browser.page_source]
    pytest.fail(f"{url}: never showed {missing}")


def test_coin_opens_on_its_runs_with_datasets_model_and_figure(browser, ui):
    base, client = ui
    coin = client.get_experiment_by_name("coin")
    assert coin.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = {r.info.run_name: r for r in client.search_runs([coin.experiment_id])}
    dataset = "outputs/coin/observed/n2/data"
    page = _open(
        browser, f"{base}/#/experiments/{coin.experiment_id}/runs?{RUNS_VIEW}", *runs, dataset
    )
    assert "Coin-flip aggregation (paper §6.1" in page  # the experiment's description
    assert "Detect Issues" not in page  # not the GenAI traces page

    run = runs["observed-n2-seed0"]
    (model,) = client.search_logged_models(
        experiment_ids=[coin.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    url = f"{base}/#/experiments/{coin.experiment_id}/runs/{run.info.run_id}?{RUNS_VIEW}"
    page = _open(browser, url, "observed-n2-seed0", dataset, "Logged models (1)")
    assert model.model_id in page and "val/loss:optimal" in page

    reports = client.get_experiment_by_name("reports")
    (report,) = client.search_runs([reports.experiment_id], "tags.mlflow.runName = 'coin_report'")
    url = (
        f"{base}/#/experiments/{reports.experiment_id}/runs/{report.info.run_id}"
        f"/artifacts/figures/figure3.png?{RUNS_VIEW}"
    )
    _open(browser, url, "figures/figure3.png")
    deadline = time.time() + 30
    while time.time() < deadline:  # the preview: the PNG fetched from the server as a blob
        images = [i.get_attribute("src") or "" for i in browser.find_elements("tag name", "img")]
        if any(src.startswith("blob:") for src in images):
            break
        time.sleep(1)
    else:
        pytest.fail("figure3.png was listed but never previewed")
