"""Text classification on a TensorFlow Hub embedding, as `trainer.catalog` lists it."""

from trainer.catalog import CaseStudy
from trainer.text.config import TextTrainConfig
from trainer.text.ingest import ingest_text_file
from trainer.text.training import train_text_classifier

CASE_STUDY = CaseStudy(
    config=TextTrainConfig,
    train=train_text_classifier,
    ingest=ingest_text_file,
    source="a CSV/JSONL file (gs:// or local) or bq://project.dataset.table",
    headline=("val_accuracy", "validation accuracy"),
)
