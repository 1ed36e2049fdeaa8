"""The batch prediction pipeline (a service pipeline: one for every case study) and
`python -m pipelines predict`."""
