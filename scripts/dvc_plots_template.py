"""Write .dvc/plots/offline.html: `dvc plots show`'s page with Vega, Vega-Lite and Vega-Embed
inlined (vl-convert's bundle), so the plots render with no network; .dvc/config points
plots.html_template at it. `make setup` runs this.

DVC's plot divs call a global vegaEmbed(...) as they load, before a module script runs: a
classic script queues those calls and the bundled module replays them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import vl_convert

OUT = Path(__file__).resolve().parents[1] / ".dvc" / "plots" / "offline.html"
QUEUE = (
    "window.__dvcPlots = [];\n"
    "window.vegaEmbed = function (el, spec) { window.__dvcPlots.push([el, spec]); };"
)
REPLAY = "for (const [el, spec] of window.__dvcPlots) { vegaEmbed(el, spec); }"
PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  {{refresh_tag}}
  <title>DVC plots (offline)</title>
  <script>{queue}</script>
  <style>table {{ border-spacing: 15px; }}</style>
</head>
<body>
  {{plot_divs}}
  <script type="module">{bundle}</script>
</body>
</html>
"""


def main() -> None:
    bundle = vl_convert.javascript_bundle(REPLAY)
    page = PAGE.format(queue=QUEUE, bundle=bundle)  # {{plot_divs}} -> DVC's {plot_divs}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(page, encoding="utf-8")
    print(f"{OUT.relative_to(OUT.parents[2])}: {len(page) // 1024} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
