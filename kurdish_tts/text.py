"""The Kurmanji text normaliser: written text -> what the MMS Kurmanji model can say.

The MMS tokenizer lower-cases and silently drops every character outside its vocabulary:
digits, punctuation and typographic quotes vanish ("Ez 25 salî me" becomes "ez salî me").
`normalize_text` makes text speakable first: Unicode NFC, Kurmanji lower case, quotes and
dashes mapped, numbers spelled out in Kurmanji words, and whatever the model still cannot
say (punctuation included) removed and counted, so that callers can report it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

ONES = ["sifir", "yek", "du", "sê", "çar", "pênc", "şeş", "heft", "heşt", "neh"]
TEENS = ["deh", "yanzdeh", "dwanzdeh", "sêzdeh", "çardeh", "panzdeh", "şanzdeh", "hivdeh", "hejdeh", "nozdeh"]
TENS = ["", "deh", "bîst", "sî", "çil", "pêncî", "şêst", "heftê", "heştê", "nod"]
SCALES = [(10**9, "milyar"), (10**6, "milyon"), (10**3, "hezar")]
MAX_SPELLED = 10**12 - 1  # larger numbers are read digit by digit
AND = " û "
DECIMAL_POINT = "xal"
PERCENT = "ji sedî"
MINUS = "kêm"

APOSTROPHES = "’‘‛ʼ`´′ʹ"
QUOTES = "“”„‟‚«»‹›\"″＂"
HYPHENS = "‑‐"  # join the words beside them, as "-" does
DASHES = "–—―‒−"  # a pause between words (or a minus sign, read before this applies)
# Latin letters written with marks the model does not know, read as the plain letter.
SPOKEN_AS = {"ı": "i", "ğ": "g", "ö": "o", "ü": "u", "é": "e", "è": "e", "á": "a", "à": "a", "ó": "o", "ë": "ê"}

# A number: an optional minus sign, digits with optional thousands groups ("1.000.000",
# "10 000", "2,500"; never after a lone 0: "0,125" is a decimal), an optional decimal part
# ("3,5", "3.5"), an ordinal dot when a lower-case word follows ("2. roj"), and a case suffix
# written onto it ("1984an", "2020'an").
INTEGER = r"[1-9]\d{0,2}(?:[., \u00a0\u202f]\d{3})+(?!\d)|\d+"
NUMBER = re.compile(
    r"(?<![\w.,])(?P<sign>[-−](?=\d))?"
    rf"(?P<int>{INTEGER})"
    r"(?:[.,](?P<dec>\d+))?"
    r"(?P<ordinal>\.(?=\s+[a-zçêîşû]))?"
    r"(?:'?(?P<suffix>[^\W\d_]+))?"
)
# A date, day.month.year (also with / or -): each part read as a number.
DATE = re.compile(r"(?<![\w.,])(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?!\d|[.,]\d)")
PERCENT_BEFORE = re.compile(r"%\s*(?=[-−]?\d)")
PERCENT_AFTER = re.compile(rf"(?<![\w.,])([-−]?(?:{INTEGER})(?:[.,]\d+)?)\s*%")
PUNCTUATION = re.compile(r"[.,;:!?¿¡…()\[\]{}<>/\\|*_~^=+#@&$€£₺§¶•·]")


@dataclass
class NormalizedText:
    text: str  # speakable: only vocabulary characters and single spaces
    removed: Counter = field(default_factory=Counter)  # characters the model cannot say -> count


def number_to_words(n: int) -> str:
    """Kurmanji cardinal: 21 -> "bîst û yek", 1984 -> "hezar û neh sed û heştê û çar"."""
    if n < 0:
        return f"{MINUS} {number_to_words(-n)}"
    if n > MAX_SPELLED:
        return " ".join(ONES[int(d)] for d in str(n))
    if n < 10:
        return ONES[n]
    parts = []
    for scale, word in SCALES:
        count, n = divmod(n, scale)
        if count:
            parts.append(word if count == 1 and scale == 1000 else f"{number_to_words(count)} {word}")
    hundreds, n = divmod(n, 100)
    if hundreds:
        parts.append("sed" if hundreds == 1 else f"{ONES[hundreds]} sed")
    if 10 <= n < 20:
        parts.append(TEENS[n - 10])
    else:
        tens, ones = divmod(n, 10)
        parts += [TENS[tens]] if tens else []
        parts += [ONES[ones]] if ones else []
    return AND.join(parts)


def ordinal_to_words(n: int) -> str:
    """Kurmanji ordinal: 1 -> "yekem", 2 -> "duyem", 21 -> "bîst û yekem"."""
    cardinal = number_to_words(n)
    return cardinal + ("yem" if cardinal[-1] in "aeêiîouû" else "em")


def decimal_to_words(integer: int, decimals: str) -> str:
    """3,5 -> "sê xal pênc"; 0,05 -> "sifir xal sifir pênc" (leading zeros read out)."""
    zeros = len(decimals) - len(decimals.lstrip("0"))
    rest = decimals.lstrip("0")
    spoken = [ONES[0]] * zeros + ([number_to_words(int(rest))] if rest else [])
    return f"{number_to_words(integer)} {DECIMAL_POINT} {' '.join(spoken)}"


def _spell_number(match: re.Match) -> str:
    integer = int(re.sub(r"\D", "", match["int"]))
    if match["dec"] is not None:
        words = decimal_to_words(integer, match["dec"])
    elif match["ordinal"]:
        words = ordinal_to_words(integer)
    else:
        words = number_to_words(integer)
    if match["sign"]:
        words = f"{MINUS} {words}"
    return f" {words}{match['suffix'] or ''} "


def _lower(text: str) -> str:
    """Lower case as Kurmanji writes it: "I" is "i" (no Turkish dotless ı), "İ" is "i"."""
    return text.replace("İ", "i").replace("I", "i").lower().replace("i̇", "i")


def _plain_letter(char: str, characters: Collection[str]) -> str:
    """A Latin letter with a mark the model lacks, read as its base letter when the model has that."""
    if char in SPOKEN_AS and SPOKEN_AS[char] in characters:
        return SPOKEN_AS[char]
    base = unicodedata.normalize("NFD", char)[0]
    return base if base != char and base in characters else char


def normalize_text(text: str, characters: Collection[str] | None = None) -> NormalizedText:
    """Make `text` speakable for a model whose vocabulary is `characters` (default: the built-in one)."""
    if characters is None:
        from kurdish_tts.vocabulary import builtin_vocabulary

        characters = builtin_vocabulary().characters
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"[\r\n\t|]+", " ", text)
    text = text.translate({ord(c): "'" for c in APOSTROPHES})
    text = text.translate({ord(c): " " for c in QUOTES})
    text = DATE.sub(lambda m: f" {int(m[1])} {int(m[3])} {m[4]}", text)  # the year keeps its suffix
    text = PERCENT_BEFORE.sub(f" {PERCENT} ", text)
    text = PERCENT_AFTER.sub(rf" {PERCENT} \1 ", text)  # "50%": Kurmanji says the percent first
    text = NUMBER.sub(_spell_number, text)
    text = re.sub(r"\d", lambda m: f" {ONES[int(m[0])]} ", text)  # any digit left over
    text = text.translate({ord(c): "-" for c in HYPHENS} | {ord(c): " " for c in DASHES})
    text = re.sub(r"(^|\s)-+|-+(\s|$)", " ", text)  # a hyphen standing alone is a pause too
    removed: Counter = Counter()
    text = PUNCTUATION.sub(lambda m: _remove(m[0], removed), _lower(text))
    text = re.sub(r"(?<!\S)'+|'+(?!\S)", " ", text)  # quotes made of apostrophes
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
            continue
        if char not in characters:
            char = _plain_letter(char, characters)
        kept.append(char if char in characters else _remove(char, removed))
    return NormalizedText(" ".join("".join(kept).split()), removed)


def _remove(char: str, removed: Counter) -> str:
    """Count `char` as removed; a space stands in for it, so the words beside it stay apart."""
    removed[char] += 1
    return " "

