"""Train the image classifier as a plain Vertex AI custom training job.

    python -m trainer.task --source-uri gs://bucket/flowers --base-model mobilenet_v2 \\
        --image-size 160 [--model-dir DIR]

Ingests the class folders at --source-uri (or reads an ingested --dataset-dir),
trains, and exports the SavedModel to --model-dir or AIP_MODEL_DIR. TensorBoard
logs and resumable backups go to AIP_TENSORBOARD_LOG_DIR and AIP_CHECKPOINT_DIR
when Vertex AI sets them. There is one flag per VisionTrainConfig field, made
from the dataclass, so the two never drift apart.

On Vertex AI it runs in the pipeline image, where this project is installed:
`aiplatform.CustomContainerTrainingJob(container_uri=PIPELINE_IMAGE,
command=["python3", "-m", "trainer.task"])`. It also runs as a file
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
from collections.abc import Iterable
from pathlib import Path

from trainer.errors import InputError
from trainer.image_ingest import ingest_image_folder
from trainer.model_metadata import METADATA
from trainer.output_dirs import MODEL_DIR_VAR, local_path, output_dirs
from trainer.vision_training import VisionTrainConfig, train_image_classifier

PROG = "trainer.task"

log = logging.getLogger(__name__)


def config_flags() -> list[tuple[str, type, object]]:
    """(name, type, default) of every VisionTrainConfig field."""
    hints = typing.get_type_hints(VisionTrainConfig)
    return [(f.name, hints[f.name], _default(f)) for f in dataclasses.fields(VisionTrainConfig)]


def ingest_flags() -> list[tuple[str, type, object]]:
    """(name, type, default) of ingest_image_folder's options (all but source and target)."""
    params = list(inspect.signature(ingest_image_folder, eval_str=True).parameters.values())
    return [(p.name, p.annotation, p.default) for p in params[2:]]


def train_task(
    config: VisionTrainConfig,
    model_dir: str | Path | None = None,
    source_uri: str | None = None,
    dataset_dir: str | Path | None = None,
    ingest_options: dict | None = None,
) -> tuple[Path, dict]:
    """Ingest `source_uri` (or read `dataset_dir`), train, export; return (model dir, metrics).

    Everything that can be checked before copying data or training is checked first.
    """
    config.check()
    if model_dir:
        model_dir = local_path(model_dir, "--model-dir")
    dirs = output_dirs(model_dir=model_dir)
    if dirs.model_dir is None:
        raise InputError(
            f"No model directory: pass --model-dir DIR, or set {MODEL_DIR_VAR} (Vertex AI sets "
            "it when the job has a base output directory)."
        )
    if (dirs.model_dir / METADATA).exists():
        raise InputError(
            f"{dirs.model_dir} already holds a trained model ({METADATA}): "
            "pass a new --model-dir, or remove it first."
        )
    log.info("Model directory: %s", dirs.model_dir)

    def train(dataset: str | Path) -> dict:
        return train_image_classifier(
            dataset,
            dirs.model_dir,
            config,
            tensorboard_dir=dirs.tensorboard_dir,
            checkpoint_dir=dirs.checkpoint_dir,
        )

    if dataset_dir:
        return dirs.model_dir, train(dataset_dir)
    with tempfile.TemporaryDirectory(prefix="trainer-task-") as tmp:
        dataset = Path(tmp) / "dataset"
        ingest_image_folder(source_uri, dataset, **(ingest_options or {}))
        return dirs.model_dir, train(dataset)


def main(argv: list[str] | None = None) -> None:
    """The command line: bad input ends in one `trainer.task: error: ...` line, exit 1 or 2."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    values = vars(args)
    config = VisionTrainConfig(**{name: values[name] for name, _, _ in config_flags()})
    try:
        model_dir, metrics = train_task(
            config,
            model_dir=args.model_dir,
            source_uri=args.source_uri,
            dataset_dir=args.dataset_dir,
            ingest_options={name: values[name] for name, _, _ in ingest_flags()},
        )
    except (InputError, FileExistsError, FileNotFoundError) as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    print(f"Model: {model_dir} (validation accuracy {metrics['val_accuracy']:.4f})", flush=True)


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags end in one line on stderr (a job's log shows the last line first)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument(
        "--source-uri", metavar="URI", help="gs://bucket/prefix or a local directory of classes"
    )
    data.add_argument(
        "--dataset-dir", metavar="DIR", help="an already ingested dataset (with manifest.json)"
    )
    parser.add_argument(
        "--model-dir",
        metavar="DIR",
        help=f"where the SavedModel goes (gs:// or local); default: ${MODEL_DIR_VAR}",
    )
    _add_flags(parser.add_argument_group("ingestion (with --source-uri)"), ingest_flags())
    _add_flags(parser.add_argument_group("training (VisionTrainConfig)"), config_flags())
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
                type=kind,
                default=default,
                metavar=kind.__name__.upper(),
                help="default: %(default)s",
            )
        else:
            raise TypeError(f"No command-line flag for {name}: {kind!r} is not int/float/str/bool.")


def _default(field: dataclasses.Field) -> object:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


if __name__ == "__main__":
    main(sys.argv[1:])
