"""How a case study's prediction instances look to Vertex AI Model Monitoring."""

from __future__ import annotations

from dataclasses import dataclass, field

ARRAY, OBJECT = "array", "object"


@dataclass(frozen=True)
class InstanceField:
    """One field of an instance, as the analysis instance schema names it."""

    name: str  # an object's key, or the name of an array position
    source: str  # the data-baseline feature whose training distribution it has


@dataclass(frozen=True)
class InstanceLayout:
    """The fields Vertex can read from an instance, in order, and what it cannot watch.

    `unwatched`: baseline feature -> why Vertex AI Model Monitoring does not watch it.
    """

    kind: str  # ARRAY (fields by position) or OBJECT (fields by key)
    fields: tuple[InstanceField, ...] = ()
    unwatched: dict[str, str] = field(default_factory=dict)


LABEL_REASON = "a training label: served instances have none"


def nothing_watched(statistics: dict, derived_reason: str) -> InstanceLayout:
    """No field Vertex can watch: each baseline feature with why (a label, or derived)."""
    return InstanceLayout(
        OBJECT,
        (),
        {
            name: LABEL_REASON if entry["role"] == "label" else derived_reason
            for name, entry in statistics["features"].items()
        },
    )
