"""Decode a text source's bytes: per its byte-order mark, else as UTF-8; else refuse it.

Excel saves "CSV UTF-8" with a UTF-8 byte-order mark and "Unicode Text" as UTF-16 LE
with one: files that start with a mark (UTF-8, UTF-16 or UTF-32, either byte order)
are decoded by it, the mark dropped. A file in any other encoding (Windows-1252,
Shift-JIS, UTF-16 without a mark...) is refused with where it stops being UTF-8 and,
when the bytes tell (`trainer.text.encoding_guess`), the encoding it is likely in:
decoding it anyway, with replacement characters or by a guess, would put corrupted
text into training.
"""

from __future__ import annotations

import codecs
import shlex
from pathlib import PurePosixPath

from serving.contracts.errors import InputError
from trainer.text.encoding_guess import (
    MIXED,
    UTF16_BE,
    UTF16_LE,
    UTF32_BE,
    UTF32_LE,
    Encoding,
    likely_encoding,
)

UTF8 = Encoding("utf-8", "UTF-8", "UTF-8")

# UTF-32 LE's mark begins with UTF-16 LE's, so it is tried first.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, UTF32_LE),
    (codecs.BOM_UTF32_BE, UTF32_BE),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, UTF16_LE),
    (codecs.BOM_UTF16_BE, UTF16_BE),
)


def decode_source(data: bytes, source_uri: str) -> str:
    """The text of the file `source_uri` held, without its byte-order mark."""
    mark, encoding = next(((m, e) for m, e in BYTE_ORDER_MARKS if data.startswith(m)), (b"", UTF8))
    if encoding is UTF8 and b"\x00" in data:
        raise InputError(_holds_nul(source_uri, data, mark))
    try:
        text = data[len(mark) :].decode(encoding.codec)
    except UnicodeDecodeError as error:
        offset = len(mark) + error.start
        if mark and encoding is not UTF8:
            raise InputError(
                f"Source {source_uri!r} starts with a {encoding.label} byte-order mark, but "
                f"is not {encoding.label} from byte offset {offset} "
                f"(line {_line_at(data, mark, encoding, offset)}: {error.reason}): the file "
                "is damaged or cut short; export it again, as UTF-8."
            ) from None
        raise InputError(_not_utf8(source_uri, data, mark, offset)) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError(
            f"Source {source_uri!r} holds a NUL character (line {line}), which no text has: "
            "it is not a text file, or is damaged."
        )
    return text


def _line_at(data: bytes, mark: bytes, encoding: Encoding, offset: int) -> int:
    """The line number (from 1) of the byte at `offset`."""
    before = data[len(mark) : offset].decode(encoding.codec, errors="replace")
    return before.count("\n") + 1


def _quoted_name(source_uri: str) -> tuple[str, str]:
    """The file's name, and it and its converted copy's name quoted for a shell command."""
    name = PurePosixPath(source_uri.strip()).name
    return name, shlex.quote(name), shlex.quote(f"utf8-{name}")


def _not_utf8(source_uri: str, data: bytes, mark: bytes, offset: int) -> str:
    name, quoted, converted = _quoted_name(source_uri)
    where = (
        f"Source {source_uri!r} is not UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
        f"(line {_line_at(data, mark, UTF8, offset)}) is not valid UTF-8"
    )
    guess = likely_encoding(data[len(mark) :])
    if guess == MIXED:
        return (
            f"{where}, though most of the file is: it was damaged, or joined from files in "
            f"different encodings. Fix those lines (`grep -naxv '.*' {quoted}` lists them, "
            "in a UTF-8 locale) and save the file as UTF-8."
        )
    if isinstance(guess, Encoding):
        excel = ' (or, in Excel, as "CSV UTF-8")' if name.lower().endswith((".csv", ".tsv")) else ""
        return (
            f"{where}; it looks like {guess.label}. Re-save it as UTF-8, e.g. "
            f"`iconv -f {guess.iconv} -t UTF-8 {quoted} > {converted}`{excel}."
        )
    return (
        f"{where}, and its encoding could not be told (`file -i {quoted}` may say): re-save it "
        f"as UTF-8, e.g. `iconv -f <ENCODING> -t UTF-8 {quoted} > {converted}`."
    )


def _holds_nul(source_uri: str, data: bytes, mark: bytes) -> str:
    """UTF-8 text has no NUL bytes; UTF-16 or UTF-32 without a mark is full of them."""
    _, quoted, converted = _quoted_name(source_uri)
    offset = data.index(b"\x00")
    where = (
        f"Source {source_uri!r} holds NUL bytes (the first at offset {offset}, line "
        f"{_line_at(data, mark, UTF8, offset)}), which UTF-8 text never has"
    )
    guess = None if mark else likely_encoding(data)
    if isinstance(guess, Encoding):
        return (
            f"{where}: it looks like {guess.label} without a byte-order mark. Re-save it as "
            f"UTF-8, e.g. `iconv -f {guess.iconv} -t UTF-8 {quoted} > {converted}`."
        )
    return f"{where}: it is not a text file, or is damaged. Give a UTF-8 .csv or .jsonl file."
