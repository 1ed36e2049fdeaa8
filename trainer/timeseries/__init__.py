"""Case study 2: time-series forecasting with stacked LSTMs, from BigQuery.

Config, ingest, series, windows, folds, model, training, export, evaluation, report and
demo data.
"""
