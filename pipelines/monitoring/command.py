"""`python -m pipelines monitor MODEL`: skew and drift of a local model's logged traffic.

Reads the request-response log `make serve` writes (build/request-log), compares the
latest window with the model's training statistics and with the window before, writes
an HTML report and exits ALERT_EXIT_CODE when a distance is over its threshold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from serving.contracts.errors import InputError

BUILD = Path("build")
DEFAULT_REQUEST_LOG = BUILD / "request-log"
ALERT_EXIT_CODE = 3  # 0: no alert; 1: an error (message); 2: bad arguments; 3: alerts


def add_command(commands) -> None:
    from trainer.data_validation.drift import DEFAULT_THRESHOLD
    from trainer.data_validation.monitoring import DEFAULT_MIN_INSTANCES, DEFAULT_WINDOW_HOURS

    monitor = commands.add_parser(
        "monitor",
        help="compare a served model's logged traffic with its training data",
        description=__doc__.split("\n\n")[1],
    )
    monitor.add_argument("model", metavar="MODEL", help="the registered model's name, e.g. vision")
    monitor.add_argument("--registry", default=str(BUILD / "registry"), help="%(default)s")
    monitor.add_argument("--version", default="", help="a version (default: the champion)")
    monitor.add_argument("--request-log", default=str(DEFAULT_REQUEST_LOG), help="%(default)s")
    monitor.add_argument(
        "--window-hours", type=float, default=DEFAULT_WINDOW_HOURS, help="%(default)s"
    )
    monitor.add_argument(
        "--skew-threshold", type=float, default=DEFAULT_THRESHOLD, help="%(default)s"
    )
    monitor.add_argument(
        "--drift-threshold", type=float, default=DEFAULT_THRESHOLD, help="%(default)s"
    )
    monitor.add_argument(
        "--feature-threshold",
        action="append",
        default=[],
        metavar="FEATURE=VALUE",
        help="one feature's threshold, for skew and drift (repeatable; 0: unwatched)",
    )
    monitor.add_argument(
        "--min-instances", type=int, default=DEFAULT_MIN_INSTANCES, help="%(default)s"
    )
    monitor.add_argument("--report", help="default: build/monitoring/<model>.html")


def monitor_command(args: argparse.Namespace) -> None:
    from serving.registry.local_registry import LocalModelRegistry
    from trainer.data_validation.monitoring import traffic_monitoring

    registry = LocalModelRegistry(args.registry)
    if not args.model:
        raise InputError(
            f"Name the model to monitor: make monitor MODEL=<name>. Models in {args.registry}: "
            f"{_models(registry)}."
        )
    model_dir = _model_dir(registry, args.model, args.version)
    report = Path(args.report or BUILD / "monitoring" / f"{args.model}.html")
    result = traffic_monitoring(
        model_dir,
        args.model,
        args.request_log,
        report,
        version=args.version,
        window_hours=args.window_hours,
        skew_threshold=args.skew_threshold,
        drift_threshold=args.drift_threshold,
        feature_thresholds=parse_thresholds(args.feature_threshold),
        min_instances=args.min_instances,
    )
    print(result.summary())
    print(f"Report:    {report}")
    if result.alerts:
        raise SystemExit(ALERT_EXIT_CODE)


def parse_thresholds(pairs: list[str]) -> dict[str, float]:
    thresholds = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise InputError(
                f"--feature-threshold {pair!r}: use FEATURE=VALUE, e.g. image_brightness=0.2."
            )
    return thresholds


def _model_dir(registry, model: str, version: str) -> Path:
    if not version:
        champion = registry.champion(model)
        if champion is None:
            raise InputError(
                f"Model {model!r} has no champion in {registry.root}: run its pipeline "
                f"(make run), or pass --version. Models there: {_models(registry)}."
            )
        return champion.path
    if not version.isdigit() or int(version) not in registry.versions(model):
        raise InputError(
            f"Model {model!r} has no version {version!r} in {registry.root}; "
            f"its versions: {registry.versions(model) or 'none'}."
        )
    return registry.version_dir(model, int(version))


def _models(registry) -> str:
    root = Path(registry.root)
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return ", ".join(names) or "none"
