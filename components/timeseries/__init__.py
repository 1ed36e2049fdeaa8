"""KFP components of the timeseries case study: ingest, train, evaluate."""
