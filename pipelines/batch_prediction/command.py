"""`python -m pipelines predict CASE`: the batch prediction pipeline on the kfp local runner.

Predicts SOURCE (default: the case's demo data) with the local registry's champion of the
case's model, or the version or alias given, into build/predictions/ (Vertex AI's layout:
prediction-<model>-<time>/prediction.results-* and prediction.errors_stats-*).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

BUILD = Path("build")


def add_command(commands, cases: list[str]) -> None:
    predict = commands.add_parser(
        "predict",
        help="batch prediction with a registered model (kfp local runner)",
        description=__doc__.split("\n\n")[1],
    )
    predict.add_argument("name", choices=cases, metavar="CASE", help=", ".join(cases))
    predict.add_argument(
        "--source",
        help="gs:// or local JSONL, CSV, file list or image folder; bq://project.dataset.table "
        "or a SELECT query (default: the case's demo data)",
    )
    predict.add_argument("--model-version", default="", help="a version or alias (champion)")
    predict.add_argument("--instances-format", default="", help="jsonl|csv|file-list|bigquery")
    predict.add_argument(
        "--output",
        default=str(BUILD / "predictions"),
        help="a folder, gs://bucket/prefix, or bq://project (with --local-database) (%(default)s)",
    )
    predict.add_argument("--registry", default=str(BUILD / "registry"), help="%(default)s")
    predict.add_argument("--local-database", default="", help="DuckDB file for BigQuery SQL")
    predict.add_argument("--batch-size", type=int, default=64, help="%(default)s")
    predict.add_argument("--pipeline-root", default=str(BUILD / "pipeline_root"))


def predict_command(args: argparse.Namespace) -> None:
    """Check the source and the model version, then run the pipeline and print where it wrote."""
    from pipelines.catalog import get_demo, get_pipeline
    from pipelines.parameters import check_parameter_values, parameter_default, pipeline_defaults
    from serving.registry.local_registry import LocalModelRegistry
    from trainer.batch_prediction.files import expand
    from trainer.batch_prediction.model_choice import chosen_version
    from trainer.batch_prediction.sources import resolve_source

    model_name = parameter_default(get_pipeline(args.name), "model_name")
    source = {"source_uri": args.source} if args.source else get_demo(args.name).batch_source(BUILD)
    arguments = {
        "model_name": model_name,
        "model_version": args.model_version,
        "instances_format": args.instances_format,
        "output_uri": _uri(args.output),
        "registry_uri": str(Path(args.registry).resolve()),
        "local_database": str(Path(args.local_database).resolve()) if args.local_database else "",
        "batch_size": args.batch_size,
        **source,
    }
    pipeline = get_pipeline("batch_prediction")
    check_parameter_values(None, arguments, pipeline_defaults(pipeline))
    checked = resolve_source(arguments["source_uri"], args.instances_format)
    if checked.format != "bigquery":
        expand(checked.uri)  # a file, folder or pattern that names nothing fails here
    version = chosen_version(LocalModelRegistry(args.registry), model_name, args.model_version)
    print(f"Batch prediction with {model_name} version {version} of {args.registry}")
    from pipelines.local.runner import run_locally

    started = time.monotonic()
    try:
        outputs = run_locally(pipeline, arguments, args.pipeline_root)
    except RuntimeError as exc:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        raise SystemExit(f"\n{reason}\nThe failed task's log above ends with the reason.") from None
    (output,) = outputs.values()  # the pipeline's one output, the job's folder
    metadata = output.metadata
    print(
        f"\nPredictions: {int(metadata['results'])}, errors: {int(metadata['errors'])}"
        f"\nOutput:      {metadata['output_directory']}"
        f"\nFinished in {time.monotonic() - started:.0f}s"
    )


def _uri(output: str) -> str:
    """A local output as an absolute path (the step runs elsewhere); gs:// and bq:// as given."""
    return output if output.startswith(("gs://", "bq://")) else str(Path(output).resolve())
