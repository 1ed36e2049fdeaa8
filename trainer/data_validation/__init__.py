"""Data validation and monitoring: statistics, schema, anomalies, skew and drift.

Built on numpy and pandas (TFDV does not install with this stack), with the
distances Vertex AI Model Monitoring uses: L-infinity for categorical features,
Jensen-Shannon divergence for numerical ones. No TensorFlow here.
"""
