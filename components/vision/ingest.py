"""Ingest: a folder of class sub-folders of images (gs:// or local) -> Dataset."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_image_folder(
    source_uri: str,
    dataset: Output[Dataset],
    statistics: Output[Artifact],
    statistics_report: Output[HTML],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    min_images_per_class: int = 10,
):
    """Copies the images under `source_uri` (<class>/<image>) into `dataset`.

    Out: dataset/images/<class>/<file> and dataset/manifest.json (counts per
    class and split, each file's split, skipped files and why, the source URI);
    statistics (statistics.json, and statistics.pb for TFDV: classes, image sizes,
    modes, formats and brightness) and statistics_report (its HTML view).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data_validation.artifacts import save_statistics
    from trainer.vision.ingest import ingest_image_folder as ingest
    from trainer.vision.statistics import dataset_statistics

    setup_logging()
    manifest = ingest(
        source_uri, dataset.path, validation_fraction, test_fraction, min_images_per_class
    )
    statistics_report.uri += ".html"
    described = dataset_statistics(dataset.path, manifest)
    statistics.metadata.update(save_statistics(described, statistics.path, statistics_report.path))
    dataset.metadata.update(
        {
            "source_uri": source_uri,
            "classes": manifest["classes"],
            "num_files": len(manifest["files"]),
            "num_skipped": len(manifest["skipped"]),
        }
    )
