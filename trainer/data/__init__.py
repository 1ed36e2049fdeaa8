"""Reading tables with SQL.

BigQuery SQL checks and rewriting, and the engines that run it: BigQuery, or DuckDB locally.
"""
