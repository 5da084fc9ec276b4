"""`deltahall`: the entry point that dvc.yaml, MLproject and the Makefile call.

One subcommand per DVC stage, plus helpers (data, profile, validate, tracking-uri).
Every subcommand validates params.yaml before writing anything.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deltahall.config import ConfigError, load_params, profile_params

EPILOG = """examples:
  deltahall coin-data --n-choose 2          generate the N=2 coin datasets (one per seed)
  deltahall coin-train --n-choose 2         train and score one model per seed, tracked in MLflow
  deltahall coin-report                     Figure 3 and the summary from the tracked histories
  deltahall clip-train                      train the small CLIP embedder on data/images
  deltahall detector                        fit, measure and register the HCDR detector
  deltahall profile smoke > params.yaml     switch to the seconds-long smoke profile
Parameters come from params.yaml (--params to use another file). The MLflow store is
params.yaml's tracking.uri unless MLFLOW_TRACKING_URI is set."""


def _add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=Path("params.yaml"),
                   help="params file to read (default: params.yaml)")


def _add_coin(p: argparse.ArgumentParser) -> None:
    _add_params(p)
    p.add_argument("--n-choose", type=int, default=None,
                   help="N: coins chosen per example (required for observed; the hidden "
                        "variant takes coin_hidden.n_choose)")
    p.add_argument("--variant", choices=["observed", "hidden"], default="observed",
                   help="observed: the input reveals the latent state (paper §6.1); hidden: "
                        "two coin regimes the input does not reveal (default: observed)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deltahall", description="Measure δ-hallucination beside the loss "
        "(\"Are Hallucinations Bad Estimations?\"), tracked with DVC and MLflow.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_coin(sub.add_parser("coin-data", help="generate coin-flip datasets (stage coin_data)"))
    _add_coin(sub.add_parser("coin-train", help="train coin regressors, log every epoch "
                                                "(stage coin_train)"))
    _add_params(sub.add_parser("coin-report", help="Figure 3 and summary metrics "
                                                   "(stage coin_report)"))
    _add_params(sub.add_parser("clip-train", help="train the small open_clip CLIP on the "
                                                  "default images (stage clip_train)"))
    _add_params(sub.add_parser("detector", help="fit the per-class HCDR detector, measure it, "
                                                "register it in MLflow (stage detector)"))
    data = sub.add_parser("data", help="make data/ present: dvc pull, else materialise the "
                                       "copy shipped in the package and push it")
    data.add_argument("--no-push", action="store_true", help="do not seed the DVC remote")
    prof = sub.add_parser("profile", help="print params.yaml with profiles/NAME.yaml laid over it")
    prof.add_argument("name", help="profile name, e.g. smoke or paper")
    _add_params(prof)
    _add_params(sub.add_parser("validate", help="check params.yaml and exit"))
    _add_params(sub.add_parser("tracking-uri", help="print the MLflow tracking URI in use"))
    return parser


def _call(module: str, function: str, *extra: str):
    """A stage runner that imports its module only when called (torch is slow to import)."""
    def runner(params, args):
        from importlib import import_module
        return getattr(import_module(module), function)(params, *(getattr(args, e) for e in extra))
    return runner


STAGES = {
    "coin-data": _call("deltahall.coin.stage", "run_coin_data", "variant", "n_choose"),
    "coin-train": _call("deltahall.coin.stage", "run_coin_train", "variant", "n_choose"),
    "coin-report": _call("deltahall.coin.report", "run_coin_report"),
    "clip-train": _call("deltahall.vision.stage", "run_clip_train"),
    "detector": _call("deltahall.detector.stage", "run_detector"),
}


def run(args: argparse.Namespace) -> int:
    if args.command == "data":
        from deltahall.raw_data import ensure_raw_data
        return ensure_raw_data(push=not args.no_push)
    if args.command == "profile":
        import yaml
        print(yaml.safe_dump(profile_params(args.name, args.params), sort_keys=False), end="")
        return 0
    params = load_params(args.params)
    if args.command == "validate":
        print(f"{args.params}: ok (profile {params.profile})")
    elif args.command == "tracking-uri":
        from deltahall.tracking import tracking_uri
        print(tracking_uri(params))
    else:
        STAGES[args.command](params, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        if os.environ.get("DELTAHALL_DEBUG"):
            raise
        print(f"deltahall {args.command}: error: {err}", file=sys.stderr)
        print("(set DELTAHALL_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
