"""Tell, from a file's bytes, which encoding a source that is not UTF-8 is likely in.

Only for the message that refuses the file: nothing is ever decoded with a guess.
The tests are simple and told apart by the characters each reading gives:
- NUL bytes: UTF-16 or UTF-32 without a byte-order mark, the reading with the most
  ASCII characters and fewest NULs (text, digits, commas and newlines are ASCII);
- mostly valid UTF-8 with some bytes that are not: a damaged or joined file, for
  which re-encoding the whole file would be wrong;
- else the first legacy encoding that decodes the bytes into its own script:
  Windows-1252 (sparse Latin accents), Shift-JIS (Japanese, kana present),
  Windows-1251 (Cyrillic), EUC-KR/UHC (mostly Hangul), GBK (Chinese ideographs).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

SAMPLE_BYTES = 1 << 16  # enough text to tell; the guess never reads more
MIXED = "mixed"  # mostly UTF-8, with some bytes that are not


@dataclass(frozen=True)
class Encoding:
    """An encoding as Python decodes it, as people call it, and as `iconv -f` names it."""

    codec: str
    label: str
    iconv: str


UTF16_LE = Encoding("utf-16-le", "UTF-16 LE", "UTF-16LE")
UTF16_BE = Encoding("utf-16-be", "UTF-16 BE", "UTF-16BE")
UTF32_LE = Encoding("utf-32-le", "UTF-32 LE", "UTF-32LE")
UTF32_BE = Encoding("utf-32-be", "UTF-32 BE", "UTF-32BE")
WIDE = (UTF32_LE, UTF32_BE, UTF16_LE, UTF16_BE)

WINDOWS_1252 = Encoding("cp1252", "Windows-1252 (Latin-1, Western European)", "CP1252")
WINDOWS_1251 = Encoding("cp1251", "Windows-1251 (Cyrillic)", "CP1251")
SHIFT_JIS = Encoding("cp932", "Shift-JIS (Japanese)", "CP932")
EUC_KR = Encoding("cp949", "EUC-KR (Korean)", "CP949")
GBK = Encoding("gbk", "GBK (Simplified Chinese)", "GBK")


def _name(char: str) -> str:
    return unicodedata.name(char, "")


def _punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZ"


def _cjk(char: str) -> bool:
    """Ideographs, CJK punctuation and full-width forms."""
    return "\u3000" <= char <= "\u303f" or "\u4e00" <= char <= "\u9fff" or char >= "\uff00"


def _kana(char: str) -> bool:
    return "\u3040" <= char <= "\u30ff"


def _hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


def _foreign(text: str) -> str:
    """The characters of `text` beyond ASCII, in order."""
    return "".join(c for c in text if not c.isascii())


def _share(text: str, belongs: Callable[[str], bool]) -> float:
    """The share of `text`'s non-ASCII characters for which `belongs` holds."""
    foreign = _foreign(text)
    return sum(map(belongs, foreign)) / len(foreign)


def _western(text: str) -> bool:
    """Accented Latin letters, fewer than the ASCII letters, and symbols.

    Not the letters of the 0x80-0x9f range (but French Œ, œ, Ÿ): ƒ and Š are what
    Shift-JIS kana and kanji lead bytes read as.
    """
    letters = [c for c in _foreign(text) if c.isalpha()]
    ascii_letters = sum(1 for c in text if c.isascii() and c.isalpha())
    return (
        all("\u00c0" <= c <= "\u00ff" or c in "ŒœŸ" for c in letters)
        and _share(text, lambda c: c.isalpha() or _punctuation(c)) == 1
        and len(letters) < ascii_letters
    )


def _cyrillic(text: str) -> bool:
    """Cyrillic words: CJK bytes read as Cyrillic turn from lower to upper case inside words."""
    pairs = [(a, b) for a, b in itertools.pairwise(text) if a.isalpha() and b.isalpha()]
    lower_to_upper = sum(1 for a, b in pairs if a.islower() and b.isupper())
    return (
        _share(text, lambda c: "CYRILLIC" in _name(c) or _punctuation(c)) >= 0.9
        and lower_to_upper <= len(pairs) / 20
    )


def _japanese(text: str) -> bool:
    return any(map(_kana, text)) and _share(text, lambda c: _kana(c) or _cjk(c)) >= 0.9


def _korean(text: str) -> bool:
    """Hangul, few ideographs: Chinese read as EUC-KR mixes Hangul and Hanja."""
    hangul = sum(map(_hangul, text))
    ideographs = sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff")
    return _share(text, lambda c: _hangul(c) or _cjk(c)) >= 0.9 and hangul >= 9 * ideographs


def _chinese(text: str) -> bool:
    return _share(text, _cjk) >= 0.9


# Tried in this order: each test refuses what the readings before it would wrongly accept.
LEGACY: tuple[tuple[Encoding, Callable[[str], bool]], ...] = (
    (WINDOWS_1252, _western),
    (SHIFT_JIS, _japanese),
    (WINDOWS_1251, _cyrillic),
    (EUC_KR, _korean),
    (GBK, _chinese),
)


def likely_encoding(data: bytes) -> Encoding | str | None:
    """The encoding of `data` (not UTF-8, or with NULs): likely, MIXED, or None if unknown."""
    if b"\x00" in data[:SAMPLE_BYTES]:
        return _wide(data[:SAMPLE_BYTES])
    # From the line of the first byte beyond ASCII: all before it reads the same in each.
    first = re.search(rb"[\x80-\xff]", data)
    start = data.rfind(b"\n", 0, first.start()) + 1 if first else 0
    sample = data[start : start + SAMPLE_BYTES]
    if start + SAMPLE_BYTES < len(data) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n")]  # no multi-byte character is cut there
    as_utf8 = sample.decode("utf-8", errors="surrogateescape")
    invalid = sum(1 for c in as_utf8 if "\udc80" <= c <= "\udcff")
    valid_foreign = sum(1 for c in as_utf8 if c > "\x7f") - invalid
    if valid_foreign >= invalid:
        return MIXED
    for encoding, fits in LEGACY:
        try:
            text = sample.decode(encoding.codec)
        except UnicodeDecodeError:
            continue
        if not text.isascii() and fits(text):
            return encoding
    return None


def _wide(sample: bytes) -> Encoding | None:
    """The UTF-16/32 reading with the most ASCII text less NULs, if it reads as text.

    As text: no NUL and no undecodable unit (but one, where the sample cuts a pair).
    """
    sample = sample[: len(sample) // 4 * 4]
    readings = {e: sample.decode(e.codec, errors="replace") for e in WIDE}

    def score(text: str) -> int:
        return sum(1 for c in text if " " <= c < "\x7f" or c in "\t\n\r") - text.count("\x00")

    text = readings[best := max(WIDE, key=lambda e: score(readings[e]))]
    return best if "\x00" not in text and text.count("\ufffd") <= 1 else None
