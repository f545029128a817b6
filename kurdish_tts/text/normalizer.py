"""The Kurmanji text normaliser: written text -> what the MMS Kurmanji model can say.

The MMS tokenizer lower-cases and silently drops every character outside its vocabulary:
digits, punctuation and typographic quotes vanish ("Ez 25 salî me" becomes "ez salî me").
`sentences` and `normalize_text` make text speakable first, in one order everywhere (data
preparation, feedback intake, synthesis, the service):

1. Unicode NFC, HTML entities and markup, Eastern Arabic and Persian digits, quotes, apostrophes;
2. URLs and e-mail addresses removed, hashtags and mentions read as their words;
3. abbreviations from `abbreviations.tsv`, clock times, dates, currencies, percentages, units,
   ranges, fractions, phone numbers and codes, Roman numerals, signs, then every other number,
   all read out in Kurmanji words: this consumes every dot that is not a sentence's end;
4. split into sentences at what is left of `. ! ? …`;
5. Kurmanji lower case, punctuation and whatever the model still cannot say removed and counted.

The readings, and the rules for the forms that could be read two ways, are listed in
TRAINING_README.md ("The text normaliser"). `VERSION` changes whenever a reading changes: it is
recorded in dataset.json and the model card, so that a stage meeting text normalised by another
version can say so.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

VERSION = 2  # 1: numbers, dates and percentages only (before the version was recorded)

ONES = ["sifir", "yek", "du", "sê", "çar", "pênc", "şeş", "heft", "heşt", "neh"]
TEENS = ["deh", "yanzdeh", "dwanzdeh", "sêzdeh", "çardeh", "panzdeh", "şanzdeh", "hivdeh", "hejdeh", "nozdeh"]
TENS = ["", "deh", "bîst", "sî", "çil", "pêncî", "şêst", "heftê", "heştê", "nod"]
SCALES = [(10**9, "milyar"), (10**6, "milyon"), (10**3, "hezar")]
MAX_SPELLED = 10**12 - 1  # longer runs of digits are read digit by digit
AND = " û "
DECIMAL_POINT = "xal"
PERCENT = "ji sedî"
MINUS = "kêm"
PLUS = "zêde"
RANGE = "heta"
HOUR = "saet"
HALF = "nîv"
MONTHS = ["rêbendan", "reşemî", "adar", "avrêl", "gulan", "pûşper", "tîrmeh", "gelawêj", "rezber", "kewçêr",
          "sermawez", "berfanbar"]
# Written after a number or before it; each with its Kurmanji word and the word of its hundredth.
CURRENCIES = {"$": ("dolar", "sent"), "USD": ("dolar", "sent"), "€": ("ewro", "sent"), "EUR": ("ewro", "sent"),
              "£": ("sterlîn", "penî"), "GBP": ("sterlîn", "penî"), "₺": ("lîre", "quruş"), "TL": ("lîre", "quruş"),
              "TRY": ("lîre", "quruş"), "IQD": ("dînar", "fils")}
UNITS = {"km/h": "kîlometre di saetê de", "km/saet": "kîlometre di saetê de", "km²": "kîlometre çargoşe",
         "m²": "metre çargoşe", "m³": "metre kûp", "km": "kîlometre", "cm": "santîmetre", "mm": "mîlîmetre",
         "m": "metre", "kg": "kîlogram", "mg": "mîlîgram", "g": "gram", "ml": "mîlîlître", "l": "lître",
         "ha": "hektar", "°C": "pile selsiyûs", "℃": "pile selsiyûs", "°F": "pile fahrenhayt", "°": "pile",
         "kWh": "kîlowat saet", "kW": "kîlowat", "W": "wat", "V": "volt", "GB": "gîgabayt", "MB": "megabayt"}
VULGAR_FRACTIONS = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
                    "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
                    "⅞": (7, 8), "⅒": (1, 10)}
VULGAR = re.compile(rf"(?P<after>(?<=\d)\s?)?(?P<char>[{''.join(VULGAR_FRACTIONS)}])")
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
# After these words a Roman numeral stands for a number (a century, a chapter, a volume, a part).
ROMAN_CONTEXT = ("sedsal", "beş", "cild", "par", "xelek", "kongre", "konferans", "bend", "pirtûk", "sal", "qat")

APOSTROPHES = "’‘‛ʼ`´′ʹ"
QUOTES = "“”„‟‚«»‹›\"″＂"
HYPHENS = "‑‐"  # join the words beside them, as "-" does
DASHES = "–—―‒−"  # a pause between words (or a minus sign or a range, read before this applies)
# Latin letters written with marks the model does not know, read as the plain letter.
SPOKEN_AS = {"ı": "i", "ğ": "g", "ö": "o", "ü": "u", "é": "e", "è": "e", "á": "a", "à": "a", "ó": "o", "ë": "ê"}
DIGITS = {ord(c): str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")} | {ord(c): str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")}
ARABIC_SEPARATORS = {ord("٫"): ",", ord("٬"): "."}

# A number: digits with optional thousands groups, the same separator throughout ("1.000.000",
# "10 000", "2,500"; never after a lone 0: "0,125" is a decimal), an optional decimal part ("3,5",
# "3.5"), an ordinal dot when a lower-case word follows ("2. roj"), and a case suffix written onto
# it ("1984an", "2020'an"). A run of more than 15 digits is no amount: it is read digit by digit.
def _integer(group: str) -> str:
    return rf"[1-9]\d{{0,2}}(?:(?P<{group}>[., \u00a0\u202f])\d{{3}}(?:(?P={group})\d{{3}}){{0,4}})(?!\d)|\d{{1,15}}(?!\d)"


SUFFIX = r"(?:'?(?P<suffix>[^\W\d_]+))?"
AMOUNT = rf"(?:{_integer('sep')})(?:[.,]\d+)?"
AMOUNT_PARTS = re.compile(rf"(?P<int>{_integer('sep')})(?:[.,](?P<dec>\d+))?")
NUMBER = re.compile(rf"(?<![\w.,])(?P<sign>[-−](?=\d))?(?P<int>{_integer('sep')})(?:[.,](?P<dec>\d+))?"
                    r"(?P<ordinal>\.(?=\s+[a-zçêîşû]))?" + SUFFIX)
URL = re.compile(r"\b(?:https?://|www\.)[\w\-.~:/?#\[\]@!$&'()*+,;=%]+|\b[\w.-]+\.(?:com|org|net|edu|gov|info|io|krd)"
                 r"(?:/[\w\-.~:/?#\[\]@!$&'()*+,;=%]*)?\b",
                 re.IGNORECASE)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
TAG = re.compile(r"(?<![\w@#])[#@](?P<word>[^\W\d_]\w*)")
MARKUP = re.compile(r"<[^<>\n]{1,200}>")
TIME = re.compile(r"(?<![\w:.,])(?:saet\s+)?(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)(?![\d:]|[.,]\d)" + SUFFIX,
                  re.IGNORECASE)
DATE = re.compile(r"(?<![\w.,/-])(?P<day>\d{1,2})(?P<sep>[./-])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{4})"
                  r"(?![\d/-]|[.,]\d)" + SUFFIX)
ISO_DATE = re.compile(r"(?<![\w.,/-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\d/-]|[.,]\d)" + SUFFIX)
PHONE = re.compile(r"(?<![\w.,])(?P<plus>\+)?(?P<digits>\d+(?:[ \-]\d+){2,}|0\d{3,}|\d{13,})(?![\w.,]\d|\w)")
RANGE_PAIR = re.compile(r"(?<![\w.,])(?P<a>\d+)(?:'?(?P<first_suffix>[^\W\d_]+))?(?:\s?[–—‒]\s?|-)(?P<b>\d+)"
                        r"(?![.,]\d)" + SUFFIX)
FRACTION = re.compile(r"(?<![\w.,/])(?P<a>\d{1,3})/(?P<b>\d{1,3})(?![\d/]|[.,]\d)")
PERCENT_BEFORE = re.compile(r"%\s*(?=[-−]?\d)")
PERCENT_AFTER = re.compile(rf"(?<![\w.,])(?P<n>[-−]?{AMOUNT})\s*%")
SIGN_BETWEEN = re.compile(r"(?<=\d)\s*(?P<sign>[+=×x*])\s*(?=[-−]?\d)")
SIGNS = {"+": PLUS, "=": "dibe", "×": "car", "x": "car", "*": "car"}
_CURRENCY = "|".join(re.escape(c) for c in sorted(CURRENCIES, key=len, reverse=True))
CURRENCY_BEFORE = re.compile(rf"(?<![\w.,])(?P<unit>{_CURRENCY})\s?(?P<amount>{AMOUNT})(?!\d)")
CURRENCY_AFTER = re.compile(rf"(?<![\w.,])(?P<amount>{AMOUNT})\s?(?P<unit>{_CURRENCY})(?!\w)")
_UNITS = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
UNIT = re.compile(rf"(?<![\w.,])(?P<amount>[-−]?{AMOUNT})\s?(?P<unit>{_UNITS})(?![\w²³])")
PLUS_BEFORE = re.compile(r"(?<![\w.,])\+(?=\d)")
ROMAN_NUMERAL = re.compile(r"\b(?=[MDCLXVI])(?P<roman>M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))"
                           r"(?P<dot>\.)?(?=[\s,;:!?)]|$)")
PUNCTUATION = re.compile(r"[.,;:!?¿¡…()\[\]{}<>/\\|*_~^=+#@&$€£₺§¶•·]")
SENTENCE_END = re.compile(r"(?<=[.!?…;])[\"”»’)\]]*\s+|\s*\n\s*")
CLAUSE_END = re.compile(r"(?<=[,:])[\"”»’)\]]*\s+")  # where a sentence too long to say at once is cut first
# The longest piece said at once: a VITS model's memory and time grow with an utterance's length
# (about 0.5 MB a character in the stand-in's decoder), and MMS speaks long utterances no better.
MAX_SENTENCE_CHARS = 200


@dataclass
class NormalizedText:
    text: str  # speakable: only vocabulary characters and single spaces
    removed: Counter = field(default_factory=Counter)  # what the model cannot say (characters, <url>, ...) -> count


def number_to_words(n: int) -> str:
    """Kurmanji cardinal: 21 -> "bîst û yek", 1984 -> "hezar û neh sed û heştê û çar"."""
    if n < 0:
        return f"{MINUS} {number_to_words(-n)}"
    if n > MAX_SPELLED:
        return _digits(str(n))
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
    return _suffixed(number_to_words(n), "em")


def decimal_to_words(integer: int, decimals: str) -> str:
    """3,5 -> "sê xal pênc"; 0,05 -> "sifir xal sifir pênc" (leading zeros read out); more than three
    decimals digit by digit (3,14159 -> "sê xal yek çar yek pênc neh")."""
    zeros = len(decimals) - len(decimals.lstrip("0"))
    rest = decimals[zeros:]
    spoken = [ONES[0]] * zeros + ([number_to_words(int(rest))] if 0 < len(rest) <= 3 else [_digits(rest)])
    return f"{number_to_words(integer)} {DECIMAL_POINT} {' '.join(spoken)}"


def _digits(digits: str) -> str:
    """Digit by digit: "007" -> "sifir sifir heft"."""
    return " ".join(ONES[int(d)] for d in digits)


def _suffixed(words: str, suffix: str) -> str:
    """A suffix on spoken words, with the glide "y" after a vowel: du + em -> duyem, sê + ê -> sêyê."""
    return words + ("y" + suffix if words[-1] in "aeêiîouû" and suffix[0] in "aeêiîouû" else suffix)


def _digit_group(digits: str) -> str:
    """A group of a phone number or a code: a group of one or two digits as a number ("45" -> çil û
    pênc), longer ones digit by digit, leading zeros always ("0532" -> sifir pênc sê du)."""
    if len(digits) <= 2 and not digits.startswith("0"):
        return number_to_words(int(digits))
    return _digits(digits)


def _value(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def _amount(text: str) -> str:
    """A written amount (an optional sign, thousands groups, a decimal part) in words."""
    sign, text = (MINUS + " ", text[1:]) if text[:1] in "-−" else ("", text)
    match = AMOUNT_PARTS.fullmatch(text)
    if match is None:
        return sign + _digits(re.sub(r"\D", "", text))
    if match["dec"]:
        return sign + decimal_to_words(_value(match["int"]), match["dec"])
    return sign + number_to_words(_value(match["int"]))


# --- the table of abbreviations ---------------------------------------------------------------

ABBREVIATIONS_FILE = Path(__file__).with_name("abbreviations.tsv")


@dataclass(frozen=True)
class Abbreviation:
    written: str  # as written, with its dot
    spoken: str
    before_number: bool  # an abbreviation only before a number ("r. 45")


def read_abbreviations(path: Path = ABBREVIATIONS_FILE) -> list[Abbreviation]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            written, spoken, *condition = line.split("\t")
            rows.append(Abbreviation(written, spoken.strip(), bool(condition) and condition[0].strip() == "number"))
    return rows


@lru_cache(maxsize=1)
def _abbreviation_patterns() -> list[tuple[re.Pattern, str]]:
    """(pattern, spoken words) for each abbreviation, the longest written form first."""
    return [(re.compile(rf"(?<![\w.]){re.escape(a.written)}" + (r"(?=[\s:]*[+\d])" if a.before_number else r"(?!\w)")),
             a.spoken) for a in sorted(read_abbreviations(), key=lambda a: -len(a.written))]


# --- each category -----------------------------------------------------------------------------

def _time(m: re.Match) -> str:
    """14:30 -> "saet çardeh û sî" (a "saet" written before it is not said twice); 9:00 -> "saet neh"."""
    hour, minute = int(m["hour"]), int(m["minute"])
    words = f"{HOUR} {number_to_words(hour)}" + (f"{AND}{number_to_words(minute)}" if minute else "")
    return f" {_suffixed(words, m['suffix']) if m['suffix'] else words} "


def _date(m: re.Match) -> str:
    """1.12.2026 -> "yekê berfanbarê du hezar û bîst û şeş" (day and month with the ezafe -ê)."""
    day, month = int(m["day"]), int(m["month"])
    if not (1 <= day <= 31 and 1 <= month <= 12):  # not a date: the parts as numbers
        return " " + " ".join(number_to_words(int(part)) for part in (m["day"], m["month"], m["year"])) + " "
    year = number_to_words(int(m["year"])) + (m["suffix"] or "")
    return f" {_suffixed(number_to_words(day), 'ê')} {_suffixed(MONTHS[month - 1], 'ê')} {year} "


def _currency(m: re.Match) -> str:
    """5 € -> "pênc ewro"; 3,50 € -> "sê ewro û pêncî sent": two decimals are the hundredths."""
    unit, hundredth = CURRENCIES[m["unit"]]
    parts = AMOUNT_PARTS.fullmatch(m["amount"])
    if parts["dec"] is not None and len(parts["dec"]) == 2:
        whole, cents = _value(parts["int"]), int(parts["dec"])
        words = [f"{number_to_words(whole)} {unit}"] if whole or not cents else []
        words += [f"{number_to_words(cents)} {hundredth}"] if cents else []
        return f" {AND.join(words)} "
    return f" {_amount(m['amount'])} {unit} "


def _unit(m: re.Match) -> str:
    return f" {_amount(m['amount'])} {UNITS[m['unit']]} "


def _range(m: re.Match) -> str:
    """1990-2000 -> "hezar û neh sed û nod heta du hezar"."""
    first = number_to_words(int(m["a"])) + (m["first_suffix"] or "")
    return f" {first} {RANGE} {number_to_words(int(m['b']))}{m['suffix'] or ''} "


def _fraction(m: re.Match) -> str:
    """1/2 -> "nîv", 3/4 -> "sê çaryek", 2/3 -> "du sêyek"."""
    a, b = int(m["a"]), int(m["b"])
    if b < 2:
        return f" {number_to_words(a)} {number_to_words(b)} "
    part = HALF if b == 2 else _suffixed(number_to_words(b), "yek")
    return f" {part} " if a == 1 else f" {number_to_words(a)} {part} "


def _phone(m: re.Match) -> str:
    """Phone numbers and codes in their digit groups (see _digit_group); a run of 13 digits or more
    written without groups digit by digit."""
    if _is_thousands(m["digits"]) and not m["plus"]:
        return m[0]
    groups = re.split(r"[ \-]", m["digits"])
    if len(groups) == 1 and len(groups[0]) >= 13:
        words = _digits(groups[0])
    else:
        words = " ".join(_digit_group(g) for g in groups)
    return f" {PLUS + ' ' if m['plus'] else ''}{words} "


def _is_thousands(text: str) -> bool:
    """'1 000 000', '10 000': a first group of 1-3 digits (not from a 0), then groups of three."""
    return re.fullmatch(r"[1-9]\d{0,2}(?:(?P<s>[ \u00a0\u202f])\d{3})(?:(?P=s)\d{3})*", text) is not None


def _roman_value(numeral: str) -> int:
    values = [ROMAN[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _roman(text: str) -> str:
    """Roman numerals in capitals, standing alone where a number fits, in words; any other is left
    as letters. Where a number fits: after a word of ROMAN_CONTEXT ("Sedsala XXI", "Beşa IV":
    one-letter numerals there only I, V, X); after a capitalised name, numerals of I, V and X of two
    letters or more (a ruler: "Mehmed II"); or with a full stop of its own before a lower-case word
    or the end of the text, not after a word in capitals ("XXI."). After "sedsal", after a name and
    with the full stop the ordinal ("bîst û yekem"), otherwise the cardinal ("beşa çar")."""
    def replace(m: re.Match) -> str:
        numeral = m["roman"]
        if not numeral:
            return m[0]
        words_before = text[:m.start()].split()
        previous = re.sub(r"\W", "", words_before[-1]) if words_before else ""
        after = text[m.end():]
        in_context = previous != "" and any(_lower(previous).startswith(w) for w in ROMAN_CONTEXT) \
            and (len(numeral) > 1 or numeral in "IVX")
        ruler = not in_context and previous[:1].isupper() and previous[1:].islower() and len(numeral) > 1 and set(numeral) <= set("IVX")
        dotted = m["dot"] is not None and not (previous.isupper() and len(previous) > 1) and len(numeral) > 1 \
            and (not after.strip() or re.match(r"\s+[a-zçêîşû]", after) is not None)
        if not (in_context or ruler or dotted):
            return m[0]
        value = _roman_value(numeral)
        ordinal = ruler or m["dot"] is not None or _lower(previous).startswith("sedsal")
        return f" {ordinal_to_words(value) if ordinal else number_to_words(value)} "
    return ROMAN_NUMERAL.sub(replace, text)


def _spell_number(match: re.Match) -> str:
    integer = _value(match["int"])
    if match["dec"] is not None:
        words = decimal_to_words(integer, match["dec"])
    elif match["ordinal"]:
        words = ordinal_to_words(integer)
    elif len(match["int"]) > 1 and match["int"].startswith("0"):  # a code: "007", "0532"
        words = _digit_group(match["int"])
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


def _words_of_tag(m: re.Match) -> str:
    """#ZimanêKurdî -> "Zimanê Kurdî"; @azad -> "azad"."""
    return " " + re.sub(r"(?<=[a-zçêîşû])(?=[A-ZÇÊÎŞÛ])|(?<=\D)(?=\d)|(?<=\d)(?=\D)|_", " ", m["word"]) + " "


def expand(text: str, removed: Counter | None = None) -> str:
    """Steps 1-3: everything written that is not a plain word read out in words; sentence ends kept.
    What is removed on the way (URLs, e-mail addresses) is counted in `removed`."""
    removed = Counter() if removed is None else removed
    text = unicodedata.normalize("NFC", html.unescape(text)).translate(DIGITS | ARABIC_SEPARATORS)
    text = MARKUP.sub(" ", text)
    text = re.sub("[\u00ad\u200b\u200c\u200d\u2060\ufeff]", "", text)  # soft hyphens, zero-width marks
    text = re.sub(r"[\t|\r\f\v]+", " ", text)
    text = text.translate({ord(c): "'" for c in APOSTROPHES})
    text = text.translate({ord(c): " " for c in QUOTES})

    def drop(kind: str):
        def replace(m: re.Match) -> str:
            removed[kind] += 1
            return " "
        return replace

    text = EMAIL.sub(drop("<e-mail>"), text)
    text = URL.sub(drop("<url>"), text)
    text = TAG.sub(_words_of_tag, text)
    for pattern, spoken in _abbreviation_patterns():
        text = pattern.sub(f" {spoken} ", text)
    text = VULGAR.sub(lambda m: "{} {}/{} ".format(" û" if m["after"] is not None else "", *VULGAR_FRACTIONS[m["char"]]), text)
    text = text.replace("&", " û ")
    text = _roman(text)
    if not re.search(r"\d", text):  # what follows reads numbers only
        return text
    text = DATE.sub(_date, text)
    text = ISO_DATE.sub(_date, text)
    text = TIME.sub(_time, text)
    text = CURRENCY_BEFORE.sub(_currency, text)
    text = CURRENCY_AFTER.sub(_currency, text)
    text = PERCENT_BEFORE.sub(f" {PERCENT} ", text)
    text = PERCENT_AFTER.sub(lambda m: f" {PERCENT} {_amount(m['n'])} ", text)  # "50%": the percent first
    text = UNIT.sub(_unit, text)
    text = PHONE.sub(_phone, text)
    text = RANGE_PAIR.sub(_range, text)
    text = FRACTION.sub(_fraction, text)
    text = SIGN_BETWEEN.sub(lambda m: f" {SIGNS[m['sign']]} ", text)
    text = PLUS_BEFORE.sub(f" {PLUS} ", text)
    text = NUMBER.sub(_spell_number, text)
    return re.sub(r"\d", lambda m: f" {ONES[int(m[0])]} ", text)  # any digit left over


def finish(text: str, characters: Collection[str], removed: Counter | None = None) -> NormalizedText:
    """Step 5: Kurmanji lower case; punctuation and what `characters` lacks removed and counted."""
    removed = Counter() if removed is None else removed
    text = re.sub(r"\s+", " ", text)
    text = text.translate({ord(c): "-" for c in HYPHENS} | {ord(c): " " for c in DASHES})
    text = re.sub(r"(^|\s)-+|-+(\s|$)", " ", text)  # a hyphen standing alone is a pause too
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


def _characters(characters: Collection[str] | None) -> Collection[str]:
    if characters is None:
        from kurdish_tts.text.vocabulary import builtin_vocabulary

        return builtin_vocabulary().characters
    return characters


def sentences(text: str, characters: Collection[str] | None = None,
              max_chars: int | None = None) -> list[NormalizedText]:
    """Split `text` into speakable sentences for a model whose vocabulary is `characters` (default:
    the built-in one): normalised first, so that no abbreviation ("Dr.", "hwd."), ordinal ("2. roj"),
    decimal ("3.5") or date splits a sentence. With `max_chars`, a longer sentence is cut into pieces
    of at most that many characters: at commas and colons, else between words, else (a word that
    long) anywhere. Empty sentences are dropped; what was removed from the whole text is in the
    `removed` of the first one."""
    characters = _characters(characters)
    removed: Counter = Counter()
    pieces = []
    for piece in SENTENCE_END.split(expand(text, removed)):
        whole = finish(piece, characters, removed)
        if max_chars is None or len(whole.text) <= max_chars:
            pieces.append(whole)
        else:
            clauses = [finish(clause, characters).text for clause in CLAUSE_END.split(piece)]
            pieces += [NormalizedText(part) for part in pack(clauses, max_chars)]
    spoken = [NormalizedText(piece.text) for piece in pieces if piece.text] or [NormalizedText("")]
    spoken[0].removed.update(removed)
    return spoken


def pack(parts: list[str], limit: int) -> list[str]:
    """`parts` joined by spaces into as few pieces of at most `limit` characters as their order
    allows; a part that is longer is cut between its words, and a word that is longer, anywhere."""
    pieces: list[str] = []
    for part in filter(None, parts):
        if len(part) > limit:
            words = part.split(" ")
            if len(words) == 1:
                pieces += [part[i:i + limit] for i in range(0, len(part), limit)]
            else:
                pieces += pack(words, limit)
        elif pieces and len(pieces[-1]) + 1 + len(part) <= limit:
            pieces[-1] += " " + part
        else:
            pieces.append(part)
    return pieces


def normalize_text(text: str, characters: Collection[str] | None = None) -> NormalizedText:
    """`text` speakable as one piece: its `sentences` joined (what a clip's transcript becomes)."""
    pieces = sentences(text, characters)
    removed = sum((piece.removed for piece in pieces), Counter())
    return NormalizedText(" ".join(piece.text for piece in pieces if piece.text), removed)


VERSION_KEY = "text_normalizer"  # the key of the version in dataset.json and in a model card's front matter


def version_notice(recorded: int | None, what: str) -> str | None:
    """A notice when `what` was normalised by another version of this normaliser (`recorded`; a
    record without one is version 1), None when it was this one."""
    recorded = 1 if recorded is None else recorded
    if recorded == VERSION:
        return None
    return (f"{what} was normalised by text normaliser version {recorded}; this one is version {VERSION}, which may "
            f"read numbers, dates, abbreviations and symbols differently: prepare the data again (prepare_data.py) "
            f"so that training and speech read text alike")


def _remove(char: str, removed: Counter) -> str:
    """Count `char` as removed; a space stands in for it, so the words beside it stay apart."""
    removed[char] += 1
    return " "
