"""KFP components of the vision case study: ingest, train, evaluate."""
