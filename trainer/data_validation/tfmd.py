"""The statistics and schema as TensorFlow Metadata protos, which TFDV and Facets read.

`tensorflow-metadata` installs with this stack (TFDV does not): statistics.pb is a
DatasetFeatureStatisticsList (e.g. `tfdv.load_statistics`, Facets Overview), schema.pbtxt
a Schema in text format (`tfdv.load_schema_text`).
"""

from __future__ import annotations

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainer.data_validation.feature_stats import CATEGORICAL, NUMERIC

_STATS_TYPES = {
    NUMERIC: statistics_pb2.FeatureNameStatistics.FLOAT,
    CATEGORICAL: statistics_pb2.FeatureNameStatistics.STRING,
}
_SCHEMA_TYPES = {NUMERIC: schema_pb2.FLOAT, CATEGORICAL: schema_pb2.BYTES}


def statistics_proto(statistics: dict) -> statistics_pb2.DatasetFeatureStatisticsList:
    dataset = statistics_pb2.DatasetFeatureStatistics(
        name=statistics["dataset"]["source"] or statistics["dataset"]["case"],
        num_examples=statistics["dataset"]["examples"],
    )
    for name, entry in sorted(statistics["features"].items()):
        stats = entry["stats"]
        out = dataset.features.add()
        out.path.step.append(name)
        out.type = _STATS_TYPES.get(entry["type"], statistics_pb2.FeatureNameStatistics.STRING)
        common = statistics_pb2.CommonStatistics(
            num_non_missing=stats["count"],
            num_missing=stats["missing"],
            min_num_values=1 if stats["count"] else 0,
            max_num_values=1 if stats["count"] else 0,
            avg_num_values=1.0 if stats["count"] else 0.0,
            tot_num_values=stats["count"],
        )
        if entry["type"] == NUMERIC:
            _numeric(out.num_stats, common, stats)
        else:
            _strings(out.string_stats, common, stats)
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])


def _numeric(out, common, stats: dict) -> None:
    out.common_stats.CopyFrom(common)
    if not stats["count"]:
        return
    out.mean, out.std_dev = stats["mean"], stats["std"]
    out.min, out.max, out.median = stats["min"], stats["max"], stats["quantiles"]["0.5"]
    histogram = out.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    edges, counts = stats["histogram"]["edges"], stats["histogram"]["counts"]
    for low, high, count in zip(edges[:-1], edges[1:], counts, strict=True):
        histogram.buckets.add(low_value=low, high_value=high, sample_count=count)


def _strings(out, common, stats: dict) -> None:
    out.common_stats.CopyFrom(common)
    frequencies = stats.get("frequencies", {})
    out.unique = stats.get("unique", 0)
    for rank, (value, count) in enumerate(frequencies.items()):
        out.top_values.add(value=value, frequency=count)
        out.rank_histogram.buckets.add(
            low_rank=rank, high_rank=rank, label=value, sample_count=count
        )


def schema_proto(schema: dict) -> schema_pb2.Schema:
    out = schema_pb2.Schema()
    for name, spec in sorted(schema["features"].items()):
        feature = out.feature.add(name=name, type=_SCHEMA_TYPES.get(spec["type"], schema_pb2.BYTES))
        if spec.get("required", True):
            feature.presence.min_fraction = 1.0 - spec.get("max_missing_fraction", 0.0)
            feature.presence.min_count = 1
        if "range" in spec:
            feature.float_domain.min, feature.float_domain.max = spec["range"]
        if "domain" in spec:
            feature.string_domain.name = name
            feature.string_domain.value.extend(spec["domain"])
    return out


def schema_text(schema: dict) -> str:
    return text_format.MessageToString(schema_proto(schema))
