"""The report pieces: escaping, atomic writes, curves of one fit or of several stages."""

import pytest

from trainer.evaluation.html_report import (
    champion_section,
    table,
    training_curves_section,
    write_report,
)


def test_values_are_escaped_and_floats_rounded():
    html = table(["name", "score"], [("<script>", 0.123456)])
    assert "&lt;script&gt;" in html and "<td>0.1235</td>" in html


def test_the_page_replaces_the_file_whole(tmp_path):
    path = tmp_path / "out" / "report.html"
    write_report(path, "A & B", ["<p>one</p>"])
    write_report(path, "A & B", ["<p>two</p>"])
    page = path.read_text()
    assert "<title>A &amp; B</title>" in page and "<p>two</p>" in page and "one" not in page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left


@pytest.mark.parametrize(
    "curves",
    [
        {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},  # one fit (text)
        {"head": {"loss": [1.0, 0.5]}, "fine_tune": {"loss": [0.4, 0.3]}},  # stages (vision)
    ],
)
def test_training_curves_are_drawn_for_one_fit_or_several_stages(curves):
    assert '<img alt="training curves" src="data:image/png;base64,' in training_curves_section(
        curves
    )


def test_no_curves_and_no_champion_are_said_in_words():
    assert "no training curves" in training_curves_section({})
    section = champion_section(
        {
            "metric": "mae",
            "challenger": 1.0,
            "champion": None,
            "passed": True,
            "reason": "no champion yet",
        }
    )
    assert "no champion yet" in section and "<table>" not in section
