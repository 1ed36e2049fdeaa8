"""Time-series forecasting with stacked LSTMs from BigQuery, as `trainer.catalog` lists it."""

from trainer.catalog import CaseStudy
from trainer.timeseries.config import TimeseriesTrainConfig
from trainer.timeseries.ingest import ingest_table
from trainer.timeseries.training import train_forecaster

CASE_STUDY = CaseStudy(
    config=TimeseriesTrainConfig,
    train=train_forecaster,
    ingest=ingest_table,
    source="BigQuery SQL or project.dataset.table (with --local-database: run on DuckDB)",
    headline=("train_mae", "training MAE"),
)
