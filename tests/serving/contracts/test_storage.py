"""Source URIs and copying a source tree from a local directory or gs:// (emulator)."""

import os
from pathlib import Path

import pytest

from pipelines.local.gcs_emulator import upload_directory
from serving.contracts.errors import InputError
from serving.contracts.storage import (
    copy_source_tree,
    escaped_name,
    name_problem,
    parse_source_uri,
)


def _write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


TREE = {"cat/a.png": b"A", "cat/b.png": b"B", "dog/sub/c.jpg": b"C", "top.txt": b"T"}


# --- parse_source_uri ---------------------------------------------------------------------


def test_parse_gs_uri_with_and_without_prefix():
    uri = parse_source_uri("gs://my-bucket/data/images/")
    assert (uri.scheme, uri.bucket, uri.prefix) == ("gs", "my-bucket", "data/images")
    bare = parse_source_uri("gs://my-bucket")
    assert (bare.scheme, bare.bucket, bare.prefix) == ("gs", "my-bucket", "")


def test_parse_local_path_and_file_uri():
    local = parse_source_uri("/data/images")
    assert (local.scheme, local.path) == ("file", "/data/images")
    relative = parse_source_uri("data/images")
    assert (relative.scheme, relative.path) == ("file", "data/images")
    file_uri = parse_source_uri("file:///data/images")
    assert (file_uri.scheme, file_uri.path) == ("file", "/data/images")


@pytest.mark.parametrize("uri", ["s3://bucket/prefix", "http://example.com/images", "gs://"])
def test_parse_refuses_other_schemes_and_missing_bucket_naming_the_uri(uri):
    with pytest.raises(InputError) as raised:
        parse_source_uri(uri)
    assert repr(uri) in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"/data/caf\xe9/images", "/data/caf\\xe9/images"),
        (b"file:///data/\xff\xfe.csv", "file:///data/\\xff\\xfe.csv"),
        (b"reviews-\xe9t\xe9.csv", "reviews-\\xe9t\\xe9.csv"),
    ],
)
def test_parse_refuses_a_uri_that_is_not_utf8_naming_it_escaped(raw, shown):
    with pytest.raises(InputError) as raised:
        parse_source_uri(os.fsdecode(raw))
    message = str(raised.value)
    assert f"'{shown}' is not valid UTF-8" in message and "rename" in message
    assert message.isascii() and "\n" not in message


def test_copy_from_a_local_folder_whose_own_name_is_not_utf8_is_refused(tmp_path):
    source = tmp_path / os.fsdecode(b"caf\xe9")
    _write_tree(source, TREE)
    with pytest.raises(InputError, match="not valid UTF-8") as raised:
        copy_source_tree(str(source), tmp_path / "dest")
    assert "caf\\xe9" in str(raised.value)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("uri", ["", "   "])
def test_parse_refuses_empty_uri(uri):
    with pytest.raises(InputError, match="empty"):
        parse_source_uri(uri)


# --- copy from a local directory ----------------------------------------------------------


def test_copy_local_tree_keeps_relative_paths(tmp_path):
    source = _write_tree(tmp_path / "src", TREE)
    copied = copy_source_tree(str(source), tmp_path / "dest")
    assert copied == sorted(TREE)
    assert _read_tree(tmp_path / "dest") == TREE


def test_copy_from_file_uri(tmp_path):
    source = _write_tree(tmp_path / "src", TREE)
    copied = copy_source_tree(source.as_uri(), tmp_path / "dest")
    assert copied == sorted(TREE)
    assert _read_tree(tmp_path / "dest") == TREE


def test_copy_missing_local_dir_names_it(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(InputError, match="does not exist") as raised:
        copy_source_tree(missing, tmp_path / "dest")
    assert missing in str(raised.value)


def test_copy_from_a_file_is_refused(tmp_path):
    file = tmp_path / "images.zip"
    file.write_bytes(b"PK")
    with pytest.raises(InputError, match="is a file") as raised:
        copy_source_tree(str(file), tmp_path / "dest")
    assert str(file) in str(raised.value)


def test_copy_local_tree_copies_names_that_are_not_utf8_byte_for_byte(tmp_path):
    names = [b"cat/caf\xe9.png", b"ch\xe8vre/a.png", b"ok/caf\xc3\xa9.png"]
    for raw in names:
        (tmp_path / "src" / os.fsdecode(raw)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / os.fsdecode(raw)).write_bytes(raw)
    copied = copy_source_tree(str(tmp_path / "src"), tmp_path / "dest")
    assert sorted(os.fsencode(rel) for rel in copied) == sorted(names)
    for raw in names:
        assert (tmp_path / "dest" / os.fsdecode(raw)).read_bytes() == raw


# --- names that are not UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"cat/caf\xe9.png", "file name is not valid UTF-8 (caf\\xe9.png): rename it"),
        (b"cat/\xff\xfe.jpg", "file name is not valid UTF-8 (\\xff\\xfe.jpg): rename it"),
        (b"ch\xe8vre/a.png", "folder name is not valid UTF-8 (ch\\xe8vre): rename it"),
        (b"a/\xc3(/b.png", "folder name is not valid UTF-8 (\\xc3(): rename it"),
        (b"top\x80.png", "file name is not valid UTF-8 (top\\x80.png): rename it"),
    ],
)
def test_name_problem_names_the_part_with_its_bytes_escaped(raw, reason):
    rel = os.fsdecode(raw)
    assert name_problem(rel) == reason
    assert reason.isascii()  # printable, and writable to any JSON or log


@pytest.mark.parametrize("rel", ["cat/a.png", "café/é.png", "日本/猫.jpg", "top.txt"])
def test_utf8_names_have_no_problem(rel):
    assert name_problem(rel) is None
    assert escaped_name(rel) == rel


def test_escaped_name_of_a_lone_surrogate_no_byte_decodes_to():
    # Windows names can hold them; escaping must not raise either.
    assert escaped_name("a\ud800b") == "a\\ud800b"


# --- copy from gs:// (the storage emulator) -----------------------------------------------


def test_copy_gcs_prefix_gets_exactly_the_objects_under_it(gcs_emulator, tmp_path):
    upload_directory(_write_tree(tmp_path / "a", TREE), "gs://src-bucket/prefix")
    upload_directory(_write_tree(tmp_path / "b", {"cat/x.png": b"X"}), "gs://src-bucket/prefix2")
    upload_directory(_write_tree(tmp_path / "c", {"y.png": b"Y"}), "gs://src-bucket/other")

    copied = copy_source_tree("gs://src-bucket/prefix", tmp_path / "dest")
    assert copied == sorted(TREE)
    assert _read_tree(tmp_path / "dest") == TREE

    # A trailing slash names the same prefix; the whole bucket gets everything.
    assert copy_source_tree("gs://src-bucket/prefix/", tmp_path / "dest2") == sorted(TREE)
    everything = copy_source_tree("gs://src-bucket", tmp_path / "dest3")
    assert everything == sorted(
        [f"prefix/{rel}" for rel in TREE] + ["prefix2/cat/x.png", "other/y.png"]
    )


def test_copy_from_missing_bucket_names_it(gcs_emulator, tmp_path):
    with pytest.raises(InputError, match="does not exist") as raised:
        copy_source_tree("gs://no-such-bucket-here/images", tmp_path / "dest")
    assert "'no-such-bucket-here'" in str(raised.value)


def test_copy_gcs_without_credentials_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    with pytest.raises(InputError, match="credentials") as raised:
        copy_source_tree("gs://some-bucket/images", tmp_path / "dest")
    # An InputError for the user, not a google.auth exception leaking through.
    assert type(raised.value) is InputError
    assert "STORAGE_EMULATOR_HOST" in str(raised.value)
