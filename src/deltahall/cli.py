"""`deltahall`: the entry point that dvc.yaml, MLproject and the Makefile call.

One subcommand per DVC stage, plus helpers (data, profile, validate, tracking-uri).
Every subcommand validates params.yaml before writing anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deltahall.config import ConfigError, load_params, profile_params, write_profile
from deltahall.errors import StageIncomplete
from deltahall.secrets import mask
from deltahall.tool_commands import TOOL_CALLS, add_tool_parsers, run_tool
from deltahall.tracking import Terminated

EPILOG = """examples:
  deltahall coin-data --n-choose 2          generate the N=2 coin datasets (one per seed)
  deltahall coin-train --n-choose 2         train and score one model per seed, tracked in MLflow
  deltahall coin-report                     Figure 3 and the summary from the tracked histories
  deltahall clip-train                      train the small CLIP embedder on data/images
  deltahall detector                        fit, measure and register the HCDR detector
  deltahall world                           generate the world of facts; contamination report
  deltahall facts                           Kalai et al.: errors on arbitrary facts vs singletons
  deltahall facts-sweep                     the same across worlds: error rate vs singleton rate
  deltahall t2i-pretrain                    pretrain the small text-to-image UNet on all classes
  deltahall t2i-train                       fine-tune that base per seed on the fitted classes
  deltahall t2i-report                      Figures 5 and 6 and the loss-vs-rate claim (t2i, §6.3)
  deltahall qa-pretrain                     build and pretrain the tiny Qwen2 base (QA, §6.2)
  deltahall qa-train                        LoRA fine-tune every (epochs, seed) cell, tracked
  deltahall qa-report                       Table 1 and Figure 4 from the tracked QA history
  deltahall sweep --experiment coin         Optuna study (loss, rate) over sweep.coin.space
  deltahall sweep --experiment coin --workers 2   the same over 2 processes (journal:, postgresql:)
  deltahall sweep --experiment coin --worker 3    another machine joins a postgresql:// study
  deltahall sweep-analysis                  does lower loss lower the rate? CIs and verdicts
  deltahall theory-report                   Theorem 5.1's bound vs Monte Carlo on a grid (§5)
  deltahall dashboard                       dashboards/index.html from MLflow and Optuna
  deltahall profile smoke --write           switch params.yaml to the seconds-long smoke profile
  deltahall validate                        check params.yaml and every raw input in data/
  deltahall score --input answers.jsonl     δ-rate, accuracy, Kalai scores (CIs) of any answers
  deltahall judge-images --model models:/hcdr-digits-clip-small@champion imgs/
                                            the registered detector flags any images
  deltahall gate --experiment qa --metric val/delta_hall_rate --max 0.2
                                            exit 1 unless the metric's CI upper bound <= 0.2
Parameters come from params.yaml (--params to use another file). The MLflow store is
params.yaml's tracking.uri unless MLFLOW_TRACKING_URI is set."""


def _add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file to read (default: params.yaml)",
    )


def _add_coin(p: argparse.ArgumentParser) -> None:
    _add_params(p)
    p.add_argument(
        "--n-choose",
        type=int,
        default=None,
        help="N: coins chosen per example (required for observed; the hidden "
        "variant takes coin_hidden.n_choose)",
    )
    p.add_argument(
        "--variant",
        choices=["observed", "hidden"],
        default="observed",
        help="observed: the input reveals the latent state (paper §6.1); hidden: "
        "two coin regimes the input does not reveal (default: observed)",
    )


def _add_sweep(p: argparse.ArgumentParser) -> None:
    _add_params(p)
    p.add_argument(
        "--experiment",
        required=True,
        metavar="NAME",
        help="the study to run: coin, qa or t2i (its search space: sweep.NAME.space)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="split the study's trials over this many local processes; needs "
        "sweep.storage journal:PATH or postgresql://... (default: 1)",
    )
    p.add_argument(
        "--worker",
        type=int,
        default=None,
        metavar="K",
        help="join the coordinator's study as worker K (what --workers spawns; how another "
        "machine joins a postgresql:// study) and run trials until the study is full",
    )
    p.add_argument(
        "--n-trials", type=int, default=None, help="with --worker K: run at most N trials"
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="first remove the study (and its replicates) if an earlier run left it in "
        "sweep.storage, so the study is the one today's params and code make (dvc repro "
        "runs this); without it the coordinator resumes a stored study and says so",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deltahall",
        description="Measure δ-hallucination beside the loss "
        '("Are Hallucinations Bad Estimations?"), tracked with DVC and MLflow.',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_coin(sub.add_parser("coin-data", help="generate coin-flip datasets (stage coin_data)"))
    _add_coin(
        sub.add_parser(
            "coin-train", help="train coin regressors, log every epoch (stage coin_train)"
        )
    )
    _add_params(
        sub.add_parser("coin-report", help="Figure 3 and summary metrics (stage coin_report)")
    )
    _add_params(
        sub.add_parser(
            "clip-train",
            help="train the small open_clip CLIP on the default images (stage clip_train)",
        )
    )
    _add_params(
        sub.add_parser(
            "detector",
            help="fit the per-class HCDR detector, measure it, "
            "register it in MLflow (stage detector)",
        )
    )
    _add_params(
        sub.add_parser(
            "world",
            help="generate the world of people and facts from world: (corpus, evaluation in "
            "TruthfulQA's format, fine-tuning pairs) and its contamination report (stage world)",
        )
    )
    _add_params(
        sub.add_parser(
            "facts",
            help="pretrain a tiny Qwen2 on the world's statements, ask every arbitrary fact: "
            "error rate by mentions beside the singleton rate and Kalai's bound, calibration, "
            "confidence-target scores (stage facts)",
        )
    )
    _add_params(
        sub.add_parser(
            "facts-sweep",
            help="worlds differing only in the share of facts stated once (facts.sweep), a facts "
            "base each: error rate against singleton rate across worlds (stage facts_sweep)",
        )
    )
    _add_params(
        sub.add_parser(
            "t2i-pretrain",
            help="train the base UNet on every class of the dataset (as SD is pretrained), "
            "judged at epoch 0 and each epoch on the t2i prompts; nothing to do when "
            "t2i.model.pretrained is set (stage t2i_pretrain)",
        )
    )
    _add_params(
        sub.add_parser(
            "t2i-train",
            help="fine-tune the t2i_pretrain base per seed on images.classes; at epoch 0 "
            "and every epoch generate, judge with the registered "
            "detector, log (stage t2i_train)",
        )
    )
    _add_params(
        sub.add_parser("t2i-report", help="Figures 5 and 6 from the t2i history (stage t2i_report)")
    )
    _add_params(
        sub.add_parser(
            "qa-pretrain",
            help="QA base model: pretrain the tiny Qwen2, or "
            "check the paper's model loads offline "
            "(stage qa_pretrain)",
        )
    )
    _add_params(
        sub.add_parser(
            "qa-train",
            help="LoRA fine-tuning for every (epochs, seed) cell "
            "of qa.grid, scored every epoch (stage qa_train)",
        )
    )
    _add_params(
        sub.add_parser(
            "qa-report", help="Table 1 and Figure 4 from the QA history (stage qa_report)"
        )
    )
    _add_sweep(
        sub.add_parser(
            "sweep",
            help="one Optuna study of an experiment, (final loss, final rate) per trial "
            "(stages sweep_coin, sweep_qa, sweep_t2i)",
            description="Run the Optuna study of one experiment: each trial draws knobs from "
            "sweep.NAME.space, trains once per seed in sweep.NAME.seeds and scores "
            "(final loss, final δ-hallucination rate); the Pareto front is kept. Trials "
            "are stored in sweep.storage (SQLite: one worker; journal:PATH: local "
            "workers; postgresql://...: several machines) and tracked in MLflow as "
            "nested runs of the study's run (experiment sweep_NAME). Writes "
            "outputs/sweep/NAME/trials.csv, plots/sweep/NAME_history.csv and "
            "metrics/sweep/NAME.json. The coordinator runs until n_trials trials are "
            "COMPLETE: a trial whose worker died (kill -9; on postgresql://, a silent "
            "heartbeat) is failed and run again (sweep.max_retry); the files are written "
            "even when it gives up (exit 1).",
        )
    )
    _add_params(
        sub.add_parser(
            "sweep-analysis",
            help="correlations of loss and rate with "
            "bootstrap CIs, a verdict per experiment "
            "(stage sweep_analysis)",
        )
    )
    _add_params(
        sub.add_parser(
            "theory-report",
            help="Theorem 5.1's bound beside a Monte-Carlo estimate on the theory: grid "
            "(stage theory_report)",
        )
    )
    dash = sub.add_parser(
        "dashboard",
        help="build the offline HTML dashboard comparing runs from MLflow and the Optuna studies",
    )
    _add_params(dash)
    dash.add_argument(
        "--out",
        type=Path,
        default=Path("dashboards/index.html"),
        help="HTML file to write (default: dashboards/index.html)",
    )
    dash.add_argument(
        "--mlflow-ui",
        default="http://127.0.0.1:5000",
        help="address of the MLflow UI the page links every run to (default: `make ui`'s, "
        "http://127.0.0.1:5000; '' for no links)",
    )
    data = sub.add_parser(
        "data",
        help="make data/ present: dvc pull, else materialise the "
        "copy shipped in the package and push it",
    )
    data.add_argument("--no-push", action="store_true", help="do not seed the DVC remote")
    prof = sub.add_parser(
        "profile",
        help="lay profiles/NAME.yaml over params.yaml (--write) or print the result",
        description="Lay profiles/NAME.yaml over the default params.yaml. --write replaces the "
        "params file in place, atomically and only when the result validates "
        "(comments kept); without it the merged params are printed. Do not redirect "
        "the output onto params.yaml: the shell empties the file before it is read. "
        "`git checkout params.yaml` returns to the default profile.",
    )
    prof.add_argument("name", help="profile name, e.g. smoke or paper")
    prof.add_argument(
        "--write",
        action="store_true",
        help="replace the params file with the merged params (atomic)",
    )
    _add_params(prof)
    val = sub.add_parser(
        "validate",
        help="check params.yaml and every raw input the stages read (stage validate)",
        description="Check the whole params file and every raw input in data/ that the params "
        "select (QA files, images); exit 2 naming the key, file or row at fault. "
        "DVC runs it as the first stage, so bad input never reaches a stage that "
        "would delete its outputs.",
    )
    _add_params(val)
    val.add_argument(
        "--stamp",
        type=Path,
        default=None,
        help="on success write this file (the validate stage's output)",
    )
    _add_params(sub.add_parser("tracking-uri", help="print the MLflow tracking URI in use"))
    where = sub.add_parser(
        "sweep-storage",
        help="print the Optuna storage of an experiment's study, as optuna-dashboard takes it",
    )
    where.add_argument("--experiment", required=True, help="coin, qa or t2i")
    _add_params(where)
    add_tool_parsers(sub, _add_params)
    return parser


# subcommand -> (module, function, the args it takes); modules import only when called (torch
# is slow to import). tests/test_dvc_deps.py reads the modules to check dvc.yaml's deps.
STAGE_CALLS = {
    "validate": ("deltahall.validate", "run_validate", "params", "stamp"),
    "coin-data": ("deltahall.coin.stage", "run_coin_data", "variant", "n_choose"),
    "coin-train": ("deltahall.coin.stage", "run_coin_train", "variant", "n_choose"),
    "coin-report": ("deltahall.coin.report", "run_coin_report"),
    "clip-train": ("deltahall.vision.clip_train", "run_clip_train"),
    "detector": ("deltahall.detector.stage", "run_detector"),
    "t2i-pretrain": ("deltahall.t2i.pretrain", "run_t2i_pretrain"),
    "world": ("deltahall.world.stage", "run_world"),
    "facts": ("deltahall.facts.stage", "run_facts"),
    "facts-sweep": ("deltahall.facts.sweep", "run_facts_sweep"),
    "t2i-train": ("deltahall.t2i.stage", "run_t2i_train"),
    "t2i-report": ("deltahall.t2i.report", "run_t2i_report"),
    "qa-pretrain": ("deltahall.qa.qa_pretrain", "run_qa_pretrain"),
    "qa-train": ("deltahall.qa.qa_train", "run_qa_train"),
    "qa-report": ("deltahall.qa.report", "run_qa_report"),
    "sweep": (
        "deltahall.sweep.stage",
        "run_sweep_command",
        "experiment",
        "workers",
        "worker",
        "n_trials",
        "fresh",
        "params",
    ),
    "sweep-analysis": ("deltahall.sweep.analysis", "run_sweep_analysis"),
    "theory-report": ("deltahall.theory_report.stage", "run_theory_report"),
    "dashboard": ("deltahall.dashboard.build", "run_dashboard", "out", "mlflow_ui"),
}
STAGE_MODULES = {command: call[0] for command, call in STAGE_CALLS.items()}


def _run_stage(params, args) -> None:
    from importlib import import_module

    module, function, *extra = STAGE_CALLS[args.command]
    getattr(import_module(module), function)(params, *(getattr(args, e) for e in extra))


def run(args: argparse.Namespace) -> int:
    if args.command == "data":
        from deltahall.raw_data import ensure_raw_data

        return ensure_raw_data(push=not args.no_push)
    if args.command == "profile":
        if args.write:
            write_profile(args.name, args.params)
            print(f"{args.params}: profile {args.name} (`git checkout {args.params}` for default)")
            return 0
        import yaml

        print(yaml.safe_dump(profile_params(args.name, args.params), sort_keys=False), end="")
        return 0
    if args.command in TOOL_CALLS:
        return run_tool(args)
    params = load_params(args.params)
    if args.command == "tracking-uri":
        from deltahall.tracking import tracking_uri

        print(tracking_uri(params))
    elif args.command == "sweep-storage":
        from deltahall.sweep.storage import storage_url

        url = storage_url(params.sweep.storage, args.experiment)
        print(url.removeprefix("journal:"))  # optuna-dashboard reads a journal file by its path
    else:
        _run_stage(params, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except Terminated as stop:
        print(
            f"deltahall {args.command}: terminated (SIGTERM); finished epochs are kept and "
            f"the MLflow run is marked KILLED",
            file=sys.stderr,
        )
        return int(stop.code or 143)
    except KeyboardInterrupt:
        print(
            f"deltahall {args.command}: interrupted (Ctrl-C); finished epochs are kept and "
            f"the MLflow run is marked KILLED",
            file=sys.stderr,
        )
        return 130
    except StageIncomplete as err:
        print(f"deltahall {args.command}: {mask(err)}", file=sys.stderr)
        return 1
    except (ConfigError, FileNotFoundError, ValueError) as err:
        if os.environ.get("DELTAHALL_DEBUG"):
            raise
        print(f"deltahall {args.command}: error: {mask(err)}", file=sys.stderr)
        print("(set DELTAHALL_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
