"""Benchmark results and their rendering as console text and markdown."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """One benchmark: a table of measured rows plus the headline figure vs its target."""

    name: str
    title: str
    method: str  # what was measured and how, one markdown paragraph
    columns: list[str]
    rows: list[list[str]]
    headline: str  # the figure the target is about, e.g. "5.2x"
    target: str  # e.g. ">= 4x"
    met: bool | None  # None when the benchmark could not measure its figure
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the benchmark itself


def failed(name: str, title: str, target: str, error: str, seconds: float) -> Result:
    return Result(
        name=name,
        title=title,
        method="The benchmark failed before it could measure.",
        columns=["error"],
        rows=[[error]],
        headline="failed",
        target=target,
        met=None,
        seconds=seconds,
    )


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "n/a"}[met]


def text_table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(columns, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(columns), line(["---"] * len(columns)), *(line(r) for r in rows)])


def summary_rows(results: list[Result]) -> list[list[str]]:
    return [[r.title, r.headline, r.target, verdict(r.met), f"{r.seconds:.0f} s"] for r in results]


SUMMARY_COLUMNS = ["benchmark", "measured", "target", "met", "bench time"]


def console(results: list[Result]) -> str:
    parts = []
    for r in results:
        parts.append(f"\n== {r.title} ==")
        parts.append(text_table(r.columns, r.rows))
        for note in r.notes:
            parts.append(f"  * {note}")
    parts.append("\n== Summary ==")
    parts.append(text_table(SUMMARY_COLUMNS, summary_rows(results)))
    return "\n".join(parts)


def markdown(
    results: list[Result], machine: dict[str, str], total_seconds: float, quick: bool = False
) -> str:
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m tests.bench`). Timings are measured and reported "
        "here, never asserted in the test suite. Figures from a shared or busy machine vary "
        "from run to run: compare ratios measured side by side in the same run, not absolute "
        "times across machines.",
        "",
        "## Machine",
        "",
        markdown_table(["", ""], [[k, v] for k, v in machine.items()]),
        "",
        "## Summary",
        "",
        markdown_table(SUMMARY_COLUMNS, summary_rows(results)),
        "",
        f"Total wall time of `make bench`: {total_seconds:.0f} s.",
    ]
    if quick:
        out += ["", "**--quick run: tiny sizes, for checking the benchmarks, not for citing.**"]
    for r in results:
        out += [
            "",
            f"## {r.title}",
            "",
            r.method,
            "",
            markdown_table(r.columns, r.rows),
            "",
            f"**Target {r.target}: measured {r.headline}, "
            f"{'met' if r.met else 'not met' if r.met is False else 'not measured'}.**",
        ]
        if r.notes:
            out.append("")
            out += [f"- {n}" for n in r.notes]
    return "\n".join(out) + "\n"


def merged(existing: str, results: list[Result]) -> str:
    """BENCHMARKS.md `existing` with each result's section and summary row replaced (or added
    at the end): a benchmark re-run alone keeps the others' figures."""
    text = existing
    for r in results:
        section = "\n".join(markdown([r], {}, r.seconds).split(f"\n## {r.title}\n", 1)[1:])
        section = f"## {r.title}\n{section}".rstrip("\n") + "\n"
        start = text.find(f"\n## {r.title}\n")
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n## ", start + 1)
            text = text[: start + 1] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
        row = markdown_table(SUMMARY_COLUMNS, summary_rows([r])).splitlines()[-1]
        lines = text.split("\n")
        at = next((i for i, line in enumerate(lines) if line.startswith(f"| {r.title} |")), None)
        if at is None:
            header = lines.index("## Summary")
            at = next(i for i in range(header + 4, len(lines)) if not lines[i].startswith("|"))
            lines.insert(at, row)
        else:
            lines[at] = row
        text = "\n".join(lines)
    return text
