"""Train a case study's model as a plain Vertex AI custom training job (one or many replicas).

    python -m trainer.task vision --source-uri gs://bucket/flowers --base-model mobilenet_v2
    python -m trainer.task timeseries --source-uri my-project.weather.temps --window 48
    python -m trainer.task text --source-uri gs://bucket/reviews.csv --epochs 5
    python -m trainer.task text --dataset-dir DIR --hypertune-metric val_accuracy --dropout=0.3

Ingests --source-uri (or reads an ingested --dataset-dir), trains, and exports
the SavedModel to --model-dir or AIP_MODEL_DIR. TensorBoard logs and
resumable backups go to --tensorboard-dir and --checkpoint-dir, by default
AIP_TENSORBOARD_LOG_DIR and AIP_CHECKPOINT_DIR when Vertex AI sets them. There
is one flag per field of the case study's training config, made from the
dataclass, so the two never drift apart. Each also takes Vertex AI's tuning form
`--<field>=<value>` (`--learning_rate=0.01`), which a hyperparameter tuning job
appends to a trial's arguments; `--hypertune-metric NAME` makes the run a trial that
reports that training metric as Vertex AI reads it (`trainer.tuning.metric_report`).

The strategy comes from the environment (`trainer.distribution.strategy`): with TF_CONFIG
from a Vertex AI job of several replicas or from `trainer.launch`, every
replica runs this same command and the chief writes the model.

On Vertex AI it runs in the pipeline image, where this project is installed:
`aiplatform.CustomContainerTrainingJob(container_uri=PIPELINE_IMAGE,
command=["python3", "-m", "trainer.task", "vision"])`. It also runs as a file
(`python trainer/task.py`), so every import is absolute.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import sys
import tempfile
import typing
from collections.abc import Callable, Iterable
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.logs import setup_logging
from serving.contracts.model_metadata import METADATA
from trainer.catalog import case_names, case_study
from trainer.distribution.cluster import read_cluster
from trainer.distribution.job_dirs import MODEL_DIR_VAR, JobDirs, job_dirs, local_path
from trainer.distribution.strategy import distribution_for
from trainer.tuning.metric_report import report_metric

PROG = "trainer.task"

log = logging.getLogger(__name__)


def config_flags(config: type) -> list[tuple[str, type, object]]:
    """(name, type, default) of every field of the training config dataclass."""
    hints = typing.get_type_hints(config)
    return [(f.name, hints[f.name], _default(f)) for f in dataclasses.fields(config)]


def ingest_flags(ingest: Callable[..., dict]) -> list[tuple[str, type, object]]:
    """(name, type, default) of an ingest function's options (all but source and target)."""
    params = list(inspect.signature(ingest, eval_str=True).parameters.values())
    return [(p.name, p.annotation, p.default) for p in params[2:]]


def train_task(
    case: str,
    config: object,
    model_dir: str | Path | None = None,
    source_uri: str | None = None,
    dataset_dir: str | Path | None = None,
    ingest_options: dict | None = None,
    checkpoint_dir: str | None = None,
    tensorboard_dir: str | None = None,
) -> tuple[Path, dict]:
    """Ingest `source_uri` (or read `dataset_dir`), train, export; return (model dir, metrics).

    Everything that can be checked before copying data or training is checked first.
    """
    study = case_study(case)
    config.check()
    dirs = _dirs(model_dir, checkpoint_dir, tensorboard_dir)
    if (dirs.model_dir / METADATA).exists():
        raise InputError(
            f"{dirs.model_dir} already holds a trained model ({METADATA}): "
            "pass a new --model-dir, or remove it first."
        )
    log.info("Model directory: %s", dirs.model_dir)

    def train(dataset: str | Path) -> dict:
        return study.train(
            dataset,
            dirs.model_dir,
            config,
            tensorboard_dir=dirs.tensorboard_dir,
            checkpoint_dir=dirs.checkpoint_dir,
        )

    if dataset_dir:  # gs://: through the FUSE mount, as a tuning trial reads the pipeline's
        return dirs.model_dir, train(local_path(dataset_dir, "--dataset-dir"))
    # The strategy before ingest: a multi-worker one must be created before any other
    # TensorFlow op, and ingest runs some (vision decodes every image as training will).
    distribution_for(config.strategy)
    with tempfile.TemporaryDirectory(prefix="trainer-task-") as tmp:
        dataset = Path(tmp) / "dataset"
        study.ingest(source_uri, dataset, **(ingest_options or {}))
        return dirs.model_dir, train(dataset)


def main(argv: list[str] | None = None) -> None:
    """The command line: bad input ends in one `trainer.task: error: ...` line, exit 1 or 2."""
    args = _parser().parse_args(_dashed(sys.argv[1:] if argv is None else argv))
    setup_logging()
    study = case_study(args.case)
    values = vars(args)
    config = study.config(**{name: values[name] for name, _, _ in config_flags(study.config)})
    try:
        model_dir, metrics = train_task(
            args.case,
            config,
            model_dir=args.model_dir,
            source_uri=args.source_uri,
            dataset_dir=args.dataset_dir,
            ingest_options={name: values[name] for name, _, _ in ingest_flags(study.ingest)},
            checkpoint_dir=args.checkpoint_dir,
            tensorboard_dir=args.tensorboard_dir,
        )
    except (InputError, FileExistsError, FileNotFoundError) as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    metric, name = study.headline
    if not read_cluster().is_chief:
        print(f"Worker done; the chief writes the model to {model_dir}", flush=True)
        return
    if args.hypertune_metric:
        _report_trial(args.hypertune_metric, metrics)
    print(f"Model: {model_dir} ({name} {metrics[metric]:.4f})", flush=True)


def _dashed(argv: list[str]) -> list[str]:
    """`--learning_rate=0.01`, as a Vertex AI tuning job appends a trial's values (the
    parameter_id is the field's name), as this command's `--learning-rate=0.01`."""
    flags = []
    for arg in argv:
        if arg.startswith("--"):
            key, sep, value = arg.partition("=")
            arg = key.replace("_", "-") + sep + value
        flags.append(arg)
    return flags


def _report_trial(metric: str, metrics: dict) -> None:
    """Report `metric` of a finished trial for the tuning service; exit 1 if training has none."""
    value = metrics.get(metric)
    if not isinstance(value, int | float) or isinstance(value, bool):
        numbers = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
        raise SystemExit(
            f"{PROG}: error: --hypertune-metric {metric}: training reported no such number "
            f"(it reported {', '.join(numbers)})."
        )
    report_metric(metric, float(value), step=int(metrics.get("final_epochs", 0) or 0))
    print(f"Trial metric {metric}: {value:.6g}", flush=True)


def _dirs(
    model_dir: str | Path | None, checkpoint_dir: str | None, tensorboard_dir: str | None
) -> JobDirs:
    """The output directories: flags first, then Vertex AI's AIP_* variables."""
    if model_dir:
        model_dir = local_path(model_dir, "--model-dir")
    dirs = job_dirs(model_dir=model_dir)
    if dirs.model_dir is None:
        raise InputError(
            f"No model directory: pass --model-dir DIR, or set {MODEL_DIR_VAR} (Vertex AI sets "
            "it when the job has a base output directory)."
        )
    return dataclasses.replace(
        dirs,
        checkpoint_dir=local_path(checkpoint_dir, "--checkpoint-dir")
        if checkpoint_dir
        else dirs.checkpoint_dir,
        tensorboard_dir=local_path(tensorboard_dir, "--tensorboard-dir")
        if tensorboard_dir
        else dirs.tensorboard_dir,
    )


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags end in one line on stderr (a job's log shows the last line first)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    cases = parser.add_subparsers(
        dest="case", required=True, metavar="{" + ",".join(case_names()) + "}"
    )
    for name in case_names():
        study = case_study(name)
        case = cases.add_parser(name, help=f"train the {name} model")
        data = case.add_mutually_exclusive_group(required=True)
        data.add_argument("--source-uri", metavar="URI", help=study.source)
        data.add_argument(
            "--dataset-dir", metavar="DIR", help="an already ingested dataset (with manifest.json)"
        )
        outputs = case.add_argument_group("outputs (gs:// or local)")
        outputs.add_argument(
            "--model-dir",
            metavar="DIR",
            help=f"where the SavedModel goes; default: ${MODEL_DIR_VAR}",
        )
        outputs.add_argument(
            "--checkpoint-dir",
            metavar="DIR",
            help="backups to resume from; default: $AIP_CHECKPOINT_DIR, else none",
        )
        outputs.add_argument(
            "--tensorboard-dir",
            metavar="DIR",
            help="TensorBoard logs; default: $AIP_TENSORBOARD_LOG_DIR, else none",
        )
        case.add_argument(
            "--hypertune-metric",
            metavar="NAME",
            default="",
            help="a tuning trial: report this training metric for the study (cloudml-hypertune)",
        )
        _add_flags(
            case.add_argument_group("ingestion (with --source-uri)"), ingest_flags(study.ingest)
        )
        _add_flags(
            case.add_argument_group(f"training ({study.config.__name__})"),
            config_flags(study.config),
        )
    return parser


def _add_flags(group, flags: Iterable[tuple[str, type, object]]) -> None:
    for name, kind, default in flags:
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help="default: %(default)s",
            )
        elif kind in (int, float, str):
            group.add_argument(
                flag,
                type=_int if kind is int else kind,
                default=default,
                metavar=kind.__name__.upper(),
                help="default: %(default)s",
            )
        else:
            raise TypeError(f"No command-line flag for {name}: {kind!r} is not int/float/str/bool.")


def _int(text: str) -> int:
    """An int flag's value; also "32.0", as a tuning service may write an integer."""
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


_int.__name__ = "int"  # argparse names the type in its message: "invalid int value: 'big'"


def _default(field: dataclasses.Field) -> object:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


if __name__ == "__main__":
    main(sys.argv[1:])
