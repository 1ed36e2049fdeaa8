"""Source files in encodings other than UTF-8: read by their byte-order mark, else refused by name.

Each refusal is checked for naming the file, where the first byte that is not UTF-8 is,
the encoding the bytes look like and how to re-save the file; and for carrying no
traceback (no chained exception).
"""

from __future__ import annotations

import codecs
import collections
import json
import shlex

import pytest

from serving.contracts.errors import InputError
from tests.trainer.text.text_sources import records
from trainer.text.cleaning import MALFORMED
from trainer.text.ingest import ingest_text_file
from trainer.text.readers import read_source

# Rows in several scripts, one beyond the Basic Multilingual Plane (a UTF-16 surrogate pair).
ROWS = [
    ("café au lait, très bon", "pos"),
    ("naïve crème brûlée", "neg"),
    ("日本語のレビュー", "pos"),
    ("🙂 emoji", "neg"),
]


def _csv(rows, separator=",", newline="\n") -> str:
    lines = [separator.join(("text", "label"))]
    lines += [separator.join((f'"{text}"', label)) for text, label in rows]
    return newline.join(lines) + newline


def _read(path):
    dropped: collections.Counter = collections.Counter()
    return read_source(str(path), "text", "label", dropped), dropped


def _refused(path) -> str:
    with pytest.raises(InputError) as caught:
        _read(path)
    error = caught.value
    message = str(error)
    assert repr(str(path)) in message
    assert "Traceback" not in message and "\n" not in message
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return message


@pytest.mark.parametrize(
    ("mark", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_a_csv_with_a_byte_order_mark_is_decoded_by_it(tmp_path, mark, codec):
    source = tmp_path / "marked.csv"
    source.write_bytes(mark + _csv(ROWS).encode(codec))

    rows, dropped = _read(source)

    assert rows.rows == ROWS  # the header's first name is "text", without the mark
    assert rows.rows_read == len(ROWS) and not dropped


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_excel_unicode_text_is_read_tab_separated(tmp_path, suffix):
    """Excel's "Unicode Text": UTF-16 LE with a mark, tab-separated, CRLF line ends."""
    text = _csv([(t.replace(",", ";"), label) for t, label in ROWS], "\t", "\r\n")
    source = tmp_path / f"export{suffix}"
    source.write_bytes(text.encode("utf-16"))  # Python's utf-16 writes the mark, LE here

    rows, dropped = _read(source)

    assert rows.rows == [(t.replace(",", ";"), label) for t, label in ROWS] and not dropped


def test_a_semicolon_separated_csv_is_read(tmp_path):
    source = tmp_path / "excel-fr.csv"
    source.write_bytes(codecs.BOM_UTF8 + _csv(ROWS, ";", "\r\n").encode())
    assert _read(source)[0].rows == ROWS


def test_a_utf16_jsonl_with_a_mark_is_read_and_ingested(tmp_path):
    lines = [json.dumps(r, ensure_ascii=False) for r in records({"pos": 6, "neg": 6})]
    lines.append('{"text": "crème brûlée 🙂", "label": "pos"}')
    lines.append("not json")
    source = tmp_path / "rows.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode("utf-16"))

    manifest = ingest_text_file(str(source), tmp_path / "dataset", min_examples_per_class=1)

    assert manifest["examples"] == 13
    assert manifest["dropped_by_reason"][MALFORMED] == 1


JAPANESE = _csv([("この映画は面白かった", "pos"), ("つまらない", "neg")])
RUSSIAN = _csv([("Отличный фильм", "pos"), ("Ужасно", "neg")])
KOREAN = _csv([("정말 재미있었다", "pos"), ("지루했다", "neg")])
CHINESE = _csv([("这部电影很好看", "pos"), ("很无聊", "neg")])
LATIN_JSONL = "".join(
    json.dumps({"text": t, "label": "a"}, ensure_ascii=False) + "\n" for t in ("x", "y", "thé")
)


@pytest.mark.parametrize(
    ("name", "text", "codec", "label", "iconv", "line"),
    [
        ("latin.csv", _csv(ROWS[:2]), "cp1252", "Windows-1252", "CP1252", 2),
        ("header.csv", "Überschrift,label\nok,pos\n", "cp1252", "Windows-1252", "CP1252", 1),
        ("latin.jsonl", LATIN_JSONL, "cp1252", "Windows-1252", "CP1252", 3),
        ("shift-jis.csv", JAPANESE, "shift_jis", "Shift-JIS", "CP932", 2),
        ("russian.csv", RUSSIAN, "cp1251", "Windows-1251", "CP1251", 2),
        ("korean.csv", KOREAN, "euc_kr", "EUC-KR", "CP949", 2),
        ("chinese.csv", CHINESE, "gbk", "GBK", "GBK", 2),
    ],
)
def test_a_file_in_another_encoding_is_refused_naming_it(
    tmp_path, name, text, codec, label, iconv, line
):
    source = tmp_path / name
    source.write_bytes(text.encode(codec))

    message = _refused(source)

    assert "is not UTF-8" in message and f"(line {line})" in message
    assert f"looks like {label}" in message
    assert f"iconv -f {iconv} -t UTF-8 {name}" in message
    assert ('"CSV UTF-8"' in message) == name.endswith(".csv")
    with pytest.raises(InputError):
        ingest_text_file(str(source), tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


def test_the_offset_of_the_first_byte_that_is_not_utf8_is_named(tmp_path):
    source = tmp_path / "reviews.csv"
    source.write_bytes(b"text,label\nfine,pos\ncaf\xe9,neg\n")
    message = _refused(source)
    assert "byte 0xe9 at offset 23 (line 3)" in message and "Windows-1252" in message


@pytest.mark.parametrize(
    ("name", "text", "codec", "label", "iconv"),
    [
        ("ascii.csv", "text,label\nhello,pos\nbye,neg\n", "utf-16-le", "UTF-16 LE", "UTF-16LE"),
        ("rows.csv", _csv(ROWS), "utf-16-le", "UTF-16 LE", "UTF-16LE"),
        ("rows-be.csv", _csv(ROWS), "utf-16-be", "UTF-16 BE", "UTF-16BE"),
        ("wide.csv", _csv(ROWS), "utf-32-le", "UTF-32 LE", "UTF-32LE"),
        ("wide-be.csv", "text,label\nhello,pos\n", "utf-32-be", "UTF-32 BE", "UTF-32BE"),
        ("rows.jsonl", '{"text": "café", "label": "pos"}\n', "utf-16-le", "UTF-16 LE", "UTF-16LE"),
        ("be.jsonl", '{"text": "hello", "label": "pos"}\n', "utf-16-be", "UTF-16 BE", "UTF-16BE"),
    ],
)
def test_utf16_or_utf32_without_a_mark_is_refused_naming_it(
    tmp_path, name, text, codec, label, iconv
):
    """Its NUL bytes tell it (ASCII in UTF-16 is even valid UTF-8, byte for byte)."""
    source = tmp_path / name
    source.write_bytes(text.encode(codec))

    message = _refused(source)

    first_nul = 0 if codec.endswith("be") else 1
    assert f"holds NUL bytes (the first at offset {first_nul}, line 1)" in message
    assert f"looks like {label} without a byte-order mark" in message
    assert f"iconv -f {iconv} -t UTF-8 {name}" in message


def test_the_guess_reads_from_the_first_line_beyond_ascii(tmp_path):
    """Past 64 KiB of ASCII rows, a Windows-1252 line is still named so."""
    source = tmp_path / "long.csv"
    source.write_bytes(b"text,label\n" + b"plain ascii text,pos\n" * 5000 + b"th\xe9,neg\n")
    message = _refused(source)
    assert "(line 5002)" in message and "looks like Windows-1252" in message


def test_a_utf8_file_with_a_few_foreign_lines_is_called_damaged_not_re_encoded(tmp_path):
    source = tmp_path / "joined.csv"
    source.write_bytes(_csv(ROWS).encode() + "thé,neg\n".encode("cp1252"))
    message = _refused(source)
    assert "(line 6)" in message and "most of the file is" in message
    assert "grep -naxv '.*' joined.csv" in message and "iconv" not in message


def test_bytes_of_no_known_encoding_are_refused_without_a_guess(tmp_path):
    source = tmp_path / "random.csv"
    source.write_bytes(b"text,label\n" + bytes(range(0x80, 0x100)) * 4 + b",pos\n")
    message = _refused(source)
    assert "could not be told" in message and "file -i random.csv" in message


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        # A UTF-16 file cut in the middle of a character, or holding a lone surrogate.
        (
            "cut.csv",
            codecs.BOM_UTF16_LE + _csv(ROWS).encode("utf-16-le")[:-1],
            "(line 5: truncated",
        ),
        (
            "lone.csv",
            codecs.BOM_UTF16_BE + "text\n\ud800".encode("utf-16-be", "surrogatepass"),
            "line 2",
        ),
        ("wide.jsonl", codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff", "line 1"),
    ],
)
def test_a_file_damaged_after_its_byte_order_mark_is_refused(tmp_path, name, data, expected):
    source = tmp_path / name
    source.write_bytes(data)
    message = _refused(source)
    assert "byte-order mark, but is not" in message and expected in message


def test_binary_data_is_not_a_text_source(tmp_path):
    source = tmp_path / "image.csv"
    source.write_bytes(b"text,label\n\x00\x01\x02\x03\x89PNG\x00\x00\x00\x0dIHDR\x00\xff\x00")
    message = _refused(source)
    assert "holds NUL bytes (the first at offset 11, line 2)" in message
    assert "not a text file" in message


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-32"])
def test_a_nul_character_is_refused_whatever_the_mark(tmp_path, codec):
    source = tmp_path / "nul.csv"
    source.write_bytes("text,label\nfine,pos\nbad\x00,neg\n".encode(codec))
    message = _refused(source)
    assert "line 3)" in message and "not a text file" in message


@pytest.mark.parametrize("name", ["my reviews.csv", "x$(touch pwned).csv", "it's.jsonl"])
def test_the_advised_command_quotes_the_file_name_for_the_shell(tmp_path, name):
    source = tmp_path / name
    source.write_bytes(_csv([("café crème", "a")]).encode("cp1252"))
    message = _refused(source)
    quoted, converted = shlex.quote(name), shlex.quote(f"utf8-{name}")
    assert f"-t UTF-8 {quoted} > {converted}`" in message
    assert shlex.split(f"iconv -f CP1252 -t UTF-8 {quoted}")[-1] == name
