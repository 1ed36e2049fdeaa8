"""KFP components of the text case study: ingest, train, evaluate."""
