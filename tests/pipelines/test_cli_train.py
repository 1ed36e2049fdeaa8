"""`make train` (python -m pipelines train): a case study's model on the demo data.

One worker here, to keep the suite short: two workers of each case study are
trained in tests/trainer/distribution/test_multi_worker.py.
"""

import json
from pathlib import Path

import pytest

from pipelines.cli import main


def test_train_runs_the_workers_on_the_demo_data(capsys):
    main(["train", "text", "--workers", "1", "--", "--epochs=1"])
    out = capsys.readouterr().out
    model_dir = Path(out.split("Model:", 2)[2].split()[0])  # the summary after the workers' lines
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["training_params"]["epochs"] == 1
    assert metadata["distribution"]["workers"] == 1
    assert list((model_dir.parent / "tensorboard" / "train").rglob("*.tfevents.*"))
    assert "[trainer.launch] all 1 workers finished" in out


def test_arguments_after_the_separator_are_for_train_only(capsys):
    with pytest.raises(SystemExit):
        main(["compile", "vision", "--", "--epochs=1"])
    assert "arguments after -- are for 'train' only" in capsys.readouterr().err
