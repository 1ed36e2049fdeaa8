"""Artifact directories: complete ones are never replaced, partial ones never survive."""

import pytest

from serving.contracts.artifact_dirs import building_directory, read_marker_json, write_json


def test_failure_removes_the_directory(tmp_path):
    target = tmp_path / "artifact"
    with pytest.raises(RuntimeError), building_directory(target, "marker.json") as out:
        (out / "half.bin").write_bytes(b"x")
        raise RuntimeError("step failed")
    assert not target.exists()


def test_leftovers_of_a_killed_attempt_are_cleared(tmp_path):
    target = tmp_path / "artifact"
    target.mkdir()
    (target / "half.bin").write_bytes(b"x")  # no marker: an unfinished attempt
    with building_directory(target, "marker.json") as out:
        write_json(out / "marker.json", {"ok": True})
    assert sorted(p.name for p in target.iterdir()) == ["marker.json"]
    assert read_marker_json(target, "marker.json", "Artifact") == {"ok": True}


def test_a_complete_artifact_is_never_replaced(tmp_path):
    target = tmp_path / "artifact"
    target.mkdir()
    write_json(target / "marker.json", {"version": 1})
    refused = pytest.raises(FileExistsError, match="already holds a complete artifact")
    with refused, building_directory(target, "marker.json"):
        pass
    assert read_marker_json(target, "marker.json", "Artifact") == {"version": 1}


def test_reading_an_incomplete_artifact_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="incomplete"):
        read_marker_json(tmp_path, "marker.json", "Dataset")
