"""Image classification with transfer learning, as `trainer.catalog` lists it."""

from trainer.catalog import CaseStudy
from trainer.vision.config import VisionTrainConfig
from trainer.vision.ingest import ingest_image_folder
from trainer.vision.training import train_image_classifier

CASE_STUDY = CaseStudy(
    config=VisionTrainConfig,
    train=train_image_classifier,
    ingest=ingest_image_folder,
    source="gs://bucket/prefix or a local directory of class folders",
    headline=("val_accuracy", "validation accuracy"),
)
