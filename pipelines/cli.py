"""Command line behind the Makefile.

python -m pipelines compile [NAME ...]          -> build/pipelines/<name>.yaml (Vertex AI)
python -m pipelines run NAME [--source URI] [--set key=value ...]     (kfp local runner)
python -m pipelines submit NAME [--set key=value ...] [--dry-run] [--wait]   (Vertex AI)
python -m pipelines deploy NAME [--set key=value ...]   (Artifact Registry + schedule)
python -m pipelines train NAME [--workers N] [-- trainer.task flags]   (local workers, demo data)
python -m pipelines rollback NAME [--registry DIR]   (the previous champion is champion again)
python -m pipelines emulate NAME [--source URI] [--set key=value ...]   (Vertex AI emulator)
python -m pipelines emulator                          (the Vertex AI emulator alone)
python -m pipelines monitor MODEL [--request-log DIR]   (skew and drift of served traffic)
python -m pipelines predict NAME [--source URI] [--model-version V]   (batch prediction, local)
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from pipelines.catalog import ALL_PIPELINES, PIPELINES, check_pipeline_name, get_demo, get_pipeline
from pipelines.compile import compile_pipeline
from pipelines.parameters import (
    check_parameter_values,
    parameter_default,
    parse_overrides,
    pipeline_defaults,
    pipeline_parameters,
)
from serving.contracts.errors import InputError
from serving.contracts.limits import Limit
from serving.server.settings import Setting

BUILD = Path("build")


# How often `submit --wait` asks Vertex AI for the run's state.
SUBMIT_POLL_SECONDS = Setting("--poll-seconds", Limit(0, 3600, advice="between state requests"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    comp = commands.add_parser("compile", help="compile pipelines to YAML for Vertex AI")
    comp.add_argument("names", nargs="*", default=sorted(ALL_PIPELINES), metavar="NAME")
    comp.add_argument("--out-dir", default=str(BUILD / "pipelines"))
    run = commands.add_parser("run", help="run a pipeline on the kfp local runner")
    run.add_argument("name", choices=sorted(PIPELINES))
    run.add_argument(
        "--source",
        help="the data, as the case study reads it: a gs:// or local path, or a BigQuery "
        "query or table (default: its demo data, on local stand-ins)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pipeline parameter (repeatable)",
    )
    run.add_argument("--pipeline-root", default=str(BUILD / "pipeline_root"))
    train = commands.add_parser(
        "train",
        help="train a model on the demo data with N local worker processes",
        epilog="More trainer.task flags go after --, e.g. -- --epochs=3",
    )
    train.add_argument("name", choices=sorted(PIPELINES))
    train.add_argument("--workers", type=int, default=2, help="worker processes (%(default)s)")
    train.add_argument(
        "task_args",
        nargs="*",
        metavar="FLAG",
        help="after --: more trainer.task flags (--epochs=3)",
    )
    rollback = commands.add_parser(
        "rollback", help="make the previous champion of a pipeline's model champion again"
    )
    rollback.add_argument("name", choices=sorted(PIPELINES))
    rollback.add_argument("--registry", default=str(BUILD / "registry"), help="%(default)s")
    from pipelines.emulator.commands import add_commands

    add_commands(commands, sorted(PIPELINES))
    from pipelines.monitoring.command import add_command as add_monitor_command

    add_monitor_command(commands)
    from pipelines.batch_prediction.command import add_command as add_predict_command

    add_predict_command(commands, sorted(PIPELINES))
    submit = commands.add_parser("submit", help="submit a compiled pipeline to Vertex AI")
    deploy = commands.add_parser(
        "deploy", help="upload a compiled pipeline to Artifact Registry and schedule it"
    )
    for vertex in (submit, deploy):
        vertex.add_argument("name", metavar="NAME")
        vertex.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="a pipeline parameter"
        )
        vertex.add_argument("--template-dir", default=str(BUILD / "pipelines"))
    submit.add_argument(
        "--dry-run", action="store_true", help="check everything offline, print the request"
    )
    submit.add_argument("--wait", action="store_true", help="follow the run to its end")
    submit.add_argument(
        "--poll-seconds", type=SUBMIT_POLL_SECONDS.parse, default=30, help=argparse.SUPPRESS
    )
    argv = sys.argv[1:] if argv is None else argv
    # Everything after "--" is for trainer.task (argparse mishandles "--" after a subcommand).
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.task_args = argv[split + 1 :]
    if args.task_args and args.command != "train":
        parser.error(f"arguments after -- are for 'train' only: {' '.join(args.task_args)}")
    try:
        _dispatch(args)
    except InputError as exc:
        raise SystemExit(str(exc)) from None


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "compile":
        for name in args.names:
            print(f"Compiled {name} -> {compile_pipeline(check_pipeline_name(name), args.out_dir)}")
    elif args.command == "run":
        run_command(args)
    elif args.command == "train":
        train_command(args)
    elif args.command == "rollback":
        rollback_command(args)
    elif args.command == "monitor":
        from pipelines.monitoring.command import monitor_command

        monitor_command(args)
    elif args.command == "predict":
        from pipelines.batch_prediction.command import predict_command

        predict_command(args)
    elif args.command in ("emulate", "emulator"):
        from pipelines.emulator import commands as emulator_commands

        getattr(emulator_commands, f"{args.command}_command")(args)
    else:
        from pipelines.vertex.commands import deploy_command, submit_command

        (submit_command if args.command == "submit" else deploy_command)(args)


def run_command(args: argparse.Namespace) -> None:
    from pipelines.local.runner import run_locally

    pipeline = get_pipeline(args.name)
    overrides = parse_overrides(args.set, pipeline_parameters(pipeline))
    check_parameter_values(args.name, overrides, pipeline_defaults(pipeline))
    demo = get_demo(args.name)
    started = time.monotonic()
    try:
        with demo.demo_run(BUILD, args.source, overrides) as arguments:
            outputs = run_locally(pipeline, arguments, args.pipeline_root)
    except InputError as exc:
        raise SystemExit(str(exc)) from None
    except RuntimeError as exc:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        raise SystemExit(
            f"\n{reason}\nThe failed task's log above ends with the reason. Nothing was registered."
        ) from None
    print_summary(demo.summary(outputs, arguments), outputs, arguments, time.monotonic() - started)


def train_command(args: argparse.Namespace) -> None:
    """trainer.task on the demo data as `--workers` local processes (trainer.launch)."""
    from trainer.launch import LaunchError, launch

    run_dir = (BUILD / "train" / args.name / time.strftime("%Y%m%d-%H%M%S")).resolve()
    task_args = [
        args.name,
        *get_demo(args.name).demo_task_args(BUILD),
        "--model-dir",
        str(run_dir / "model"),
        "--checkpoint-dir",
        str(run_dir / "checkpoints"),
        "--tensorboard-dir",
        str(run_dir / "tensorboard"),
        *args.task_args,
    ]
    started = time.monotonic()
    try:
        launch(args.workers, task_args)
    except LaunchError as exc:
        command = " ".join(
            ["python -m trainer.launch --workers", str(args.workers), "--", *task_args]
        )
        raise SystemExit(f"trainer.launch: error: {exc}\nTo resume: {command}") from None
    print(f"\nModel:       {run_dir / 'model'}")
    print(f"TensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}")
    print(f"Finished in {time.monotonic() - started:.0f}s")


def rollback_command(args: argparse.Namespace) -> None:
    """The local registry's previous champion of the pipeline's model becomes champion."""
    from serving.registry.local_registry import LocalModelRegistry

    model_name = parameter_default(get_pipeline(args.name), "model_name")
    registry = LocalModelRegistry(args.registry)
    try:
        current = registry.champion(model_name)
        restored = registry.rollback(model_name)
    except InputError as exc:
        raise SystemExit(f"rollback: {exc}") from None
    was = f"version {current.version}" if current else "none"
    print(
        f"{model_name}: champion is now version {restored.version} (was {was}); "
        "a running `make serve` switches to it within --poll-seconds."
    )


def print_summary(lines: list[str], outputs: dict, arguments: dict, seconds: float) -> None:
    from serving.contracts.model_metadata import read_model_metadata
    from serving.registry.local_registry import LocalModelRegistry

    print()
    print("\n".join(lines))
    tuning = read_model_metadata(outputs["model"].path).get("tuning")
    if tuning:  # the study before training (docs/tuning.md)
        print(
            f"Tuning:    {len(tuning['trials'])} trials; best trial {tuning['best_trial']}, "
            f"{tuning['metric']} {tuning['best_value']:.4f}: {tuning['best']}"
        )
    if not outputs["evaluation"].metadata["blessed"]:
        print("Deploy:    skipped (not blessed)")
    champion = LocalModelRegistry(arguments["registry_uri"]).champion(arguments["model_name"])
    if champion:
        print(f"Registry:  {champion.path} (champion: version {champion.version})")
    print(f"Finished in {seconds:.0f}s")
