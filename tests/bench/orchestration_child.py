"""One side of benchmark 3, run in a fresh interpreter by tests.bench.orchestration.

python -m tests.bench.orchestration_child pipeline  SOURCE WORKDIR RESULT.json [KEY=VALUE ...]
python -m tests.bench.orchestration_child inprocess SOURCE WORKDIR RESULT.json [KEY=VALUE ...]

`pipeline` runs the vision pipeline on the kfp local runner; `inprocess` calls
the library functions its four tasks call, in this one process. Both use the
demo arguments (plus KEY=VALUE overrides) and write under WORKDIR only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

STARTED = time.monotonic()


def arguments(source: str, workdir: Path, overrides: list[str]) -> dict:
    from pipelines.catalog import get_pipeline
    from pipelines.parameters import parse_overrides, pipeline_parameters
    from pipelines.vision.demo import demo_arguments
    from tests.bench.data import REPO_BUILD

    typed = parse_overrides(overrides, pipeline_parameters(get_pipeline("vision")))
    args = demo_arguments(REPO_BUILD, source, typed)  # the pretrained base already in build/
    args["registry_uri"] = str(workdir / "registry")
    return args


def run_pipeline(source: str, workdir: Path, overrides: list[str]) -> dict:
    from pipelines.catalog import get_pipeline
    from pipelines.local.runner import run_locally

    args = arguments(source, workdir, overrides)
    imported = time.monotonic()
    outputs = run_locally(get_pipeline("vision"), args, workdir / "pipeline_root")
    done = time.monotonic()
    model_metadata = json.loads((Path(outputs["model"].path) / "metadata.json").read_text())
    return {
        "imports_s": imported - STARTED,
        "run_locally_s": done - imported,
        "epochs": _epochs(model_metadata),
        "accuracy": outputs["evaluation"].metadata["accuracy"],
        "blessed": outputs["evaluation"].metadata["blessed"],
    }


def run_inprocess(source: str, workdir: Path, overrides: list[str]) -> dict:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = arguments(source, workdir, overrides)
    from serving.registry.local_registry import LocalModelRegistry
    from trainer.vision import training as vision_training
    from trainer.vision.config import VisionTrainConfig
    from trainer.vision.evaluation import evaluate_image_classifier
    from trainer.vision.ingest import ingest_image_folder
    from trainer.vision.training import train_image_classifier

    export_seconds = []
    export = vision_training.export_image_classifier

    def timed_export(*a, **kw):  # bench-only instrumentation: how long the export takes
        start = time.monotonic()
        try:
            return export(*a, **kw)
        finally:
            export_seconds.append(time.monotonic() - start)

    vision_training.export_image_classifier = timed_export

    steps = {"imports": time.monotonic() - STARTED}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        steps[name] = now - mark
        mark = now

    dataset, model = workdir / "dataset", workdir / "model"
    # The pipeline's defaults for what demo_arguments leaves out (vision_pipeline signature).
    ingest_image_folder(args["source_uri"], dataset, 0.15, 0.15, 10)
    lap("ingest")
    config = VisionTrainConfig(
        base_model=args["base_model"],
        base_weights=args["base_weights"],
        image_size=args["image_size"],
        batch_size=args["batch_size"],
        head_epochs=args["head_epochs"],
        fine_tune_epochs=args["fine_tune_epochs"],
        fine_tune_layers=args["fine_tune_layers"],
        learning_rate=args["learning_rate"],
        fine_tune_learning_rate=args["fine_tune_learning_rate"],
        augment_flip=args["augment_flip"],
        cv_folds=args.get("cv_folds", 0),
        seed=args.get("seed", 42),
    )
    train_image_classifier(dataset, model, config)
    lap("train")
    steps["of which export"] = sum(export_seconds)
    evaluation = evaluate_image_classifier(model, dataset, args["accuracy_threshold"])
    lap("evaluate")
    if evaluation["blessed"]:
        LocalModelRegistry(args["registry_uri"]).register(
            args["model_name"], model, labels={"source_model": str(model)}
        )
    lap("register")
    model_metadata = json.loads((model / "metadata.json").read_text())
    return {
        "steps_s": steps,
        "epochs": _epochs(model_metadata),
        "accuracy": evaluation["accuracy"],
        "blessed": evaluation["blessed"],
    }


def _epochs(model_metadata: dict) -> dict:
    curves = model_metadata.get("training_curves", {})
    return {stage: len(values.get("loss", [])) for stage, values in curves.items()}


def main() -> None:
    mode, source, workdir, result_path, *overrides = sys.argv[1:]
    workdir = Path(workdir)
    run = {"pipeline": run_pipeline, "inprocess": run_inprocess}[mode]
    result = run(source, workdir, overrides)
    result["child_s"] = time.monotonic() - STARTED
    Path(result_path).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
