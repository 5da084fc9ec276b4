"""Every figure the stages write: a 300-dpi PNG and a PDF beside it, byte-stable across runs;
and the report stages' figures and tables mirrored to MLflow (experiment `reports`)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DPI = 300  # print quality; the PDF is vector
REPORTS_EXPERIMENT = "reports"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend: no display on CI or servers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_data_uri(fig: Any) -> str:
    """The figure as an inline PNG (the dashboard is one file: no image files, no CDN)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write `path` (PNG) and its .pdf, close the figure; returns the PNG's path.

    No creation date in the PDF, so an unchanged figure is an unchanged file (DVC, git).
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None})
    plt.close(fig)
    return path


def log_report(
    params: Any,
    stage: str,
    figures: Sequence[Path],
    tables: Mapping[str, Any] = {},  # noqa: B006 - read only
    metrics: Mapping[str, float] = {},  # noqa: B006 - read only
) -> None:
    """One MLflow run per report stage in experiment `reports`: its figures (PNG and PDF,
    under figures/), its tables (MLflow tables the UI shows) and headline metrics."""
    from deltahall.tracking import start_run

    with start_run(params, REPORTS_EXPERIMENT, stage, {}, {"deltahall.stage": stage}) as run:
        for figure in figures:
            for file in (Path(figure), Path(figure).with_suffix(".pdf")):
                if file.exists():
                    run.log_artifact(file, "figures")
        for name, table in tables.items():
            run.log_table(table, f"tables/{name}.json")
        run.log_metrics(metrics)
