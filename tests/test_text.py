"""The Kurmanji normaliser as a table of cases, and its guarantees on any input."""

import random

import pytest

from kurdish_tts.text import normalize_text, number_to_words, ordinal_to_words
from kurdish_tts.vocabulary import build_tokenizer, builtin_vocabulary

CARDINALS = {
    0: "sifir", 7: "heft", 10: "deh", 11: "yanzdeh", 12: "dwanzdeh", 13: "sêzdeh", 14: "çardeh", 15: "panzdeh",
    16: "şanzdeh", 17: "hivdeh", 18: "hejdeh", 19: "nozdeh", 20: "bîst", 21: "bîst û yek", 99: "nod û neh",
    100: "sed", 101: "sed û yek", 110: "sed û deh", 125: "sed û bîst û pênc", 999: "neh sed û nod û neh",
    1000: "hezar", 1001: "hezar û yek", 1984: "hezar û neh sed û heştê û çar",
    2025: "du hezar û bîst û pênc", 10000: "deh hezar",
    123456: "sed û bîst û sê hezar û çar sed û pêncî û şeş", 1000000: "yek milyon",
    999999999: "neh sed û nod û neh milyon û neh sed û nod û neh hezar û neh sed û nod û neh",
}


@pytest.mark.parametrize("number, words", CARDINALS.items())
def test_cardinals(number, words):
    assert number_to_words(number) == words


@pytest.mark.parametrize("number, words", [(1, "yekem"), (2, "duyem"), (3, "sêyem"), (4, "çarem"),
                                           (10, "dehem"), (20, "bîstem"), (21, "bîst û yekem"), (100, "sedem")])
def test_ordinals(number, words):
    assert ordinal_to_words(number) == words


CASES = [
    ("Ez 25 salî me.", "ez bîst û pênc salî me"),
    ("Ew di sala 1984an de hat.", "ew di sala hezar û neh sed û heştê û çaran de hat"),
    ("Bihayê wê 3,5 lîre ye?", "bihayê wê sê xal pênc lîre ye"),
    ("Ew 3.5 kîlo ye", "ew sê xal pênc kîlo ye"),
    ("0,05", "sifir xal sifir pênc"),
    ("1.000.000 kes", "yek milyon kes"),
    ("10 000 mirov", "deh hezar mirov"),
    ("2,500 lîre", "du hezar û pênc sed lîre"),
    ("2. roj", "duyem roj"),
    ("Ez 2. Tu", "ez du tu"),
    ("%50 û 20%", "ji sedî pêncî û ji sedî bîst"),
    ("−5 derece", "kêm pênc derece"),
    ("2-3 roj", "du sê roj"),
    ("1234567891234", "yek du sê çar pênc şeş heft heşt neh yek du sê çar"),
    ("Şêx û Ç: “baş”", "şêx û ç baş"),
    ("«Rojbaş» got.", "rojbaş got"),
    ("Dİyarbakır’ê", "diyarbakir'ê"),
    ("ÎRO ÊVAR ŞEV ÇÛ", "îro êvar şev çû"),
    ("Ağrî, Müş", "agrî muş"),
    ("Ev — ne ew e – na", "ev ne ew e na"),
    ("a | b\nc\r\nd", "a b c d"),
    ("Tu çawa yî?!…", "tu çawa yî"),
    ("0,125 û 0.250 kg", "sifir xal sed û bîst û pênc û sifir xal du sed û pêncî kg"),  # no thousands after a lone 0
    ("Di 12.05.2020an de", "di dwanzdeh pênc du hezar û bîstan de"),
    ("1/5/2024", "yek pênc du hezar û bîst û çar"),
    ("Sala 2020'an û 2’yan", "sala du hezar û bîstan û duyan"),
    ("1.000.000% û %1.000", "ji sedî yek milyon û ji sedî hezar"),
    ("ez—tu, ez–tu, a‑b", "ez tu ez tu a-b"),
    ("‚baş‘ ‛ne’ ＂erê＂ 1990‒2000", "baş ne erê hezar û neh sed û nod du hezar"),
]


@pytest.mark.parametrize("written, spoken", CASES)
def test_kurmanji_cases(written, spoken):
    assert normalize_text(written).text == spoken


def test_removed_characters_are_counted():
    result = normalize_text("Ez 😀 salî me ☃☃")
    assert result.text == "ez salî me"
    assert result.removed == {"😀": 1, "☃": 2}


def test_removed_punctuation_is_counted_and_mapped_characters_are_not():
    assert normalize_text("Ez 25 salî me. Tu? Na!!").removed == {".": 1, "?": 1, "!": 2}
    # digits are spelled out, the decimal comma and the ordinal dot are read, quotes and dashes mapped
    assert normalize_text("Bihayê wê 3,5 lîre, 2. roj “baş” – ’na’").removed == {",": 1}
    assert normalize_text("Ağrî").removed == {}  # ğ is read as g, not removed


@pytest.mark.parametrize("decomposed, composed", [("e\u0302", "ê"), ("S\u0327e\u0302x", "şêx"), ("u\u0302 i\u0302", "û î")])
def test_decomposed_input_is_composed_first(decomposed, composed):
    result = normalize_text(decomposed)
    assert result.text == composed and result.removed == {}


def test_custom_vocabulary_removes_what_it_lacks():
    result = normalize_text("Çay û av ж", characters=set("abcdefghijklmnopqrstuvwxyz"))
    assert result.text == "cay u av"  # a letter the model lacks is read without its mark
    assert result.removed == {"ж": 1}


def test_idempotent_and_tokenizer_keeps_every_character():
    tokenizer = build_tokenizer(builtin_vocabulary())
    for written, _ in CASES:
        spoken = normalize_text(written).text
        assert normalize_text(spoken).text == spoken
        ids = tokenizer(spoken).input_ids
        assert "".join(tokenizer.convert_ids_to_tokens(ids[1::2])) == spoken  # blanks at even positions


def test_any_input_gives_only_vocabulary_characters():
    characters = builtin_vocabulary().characters
    alphabet = "aAbBçÇêÊîÎİıIşŞûÛ0123456789 .,;:!?|\n\t’“”«»–—%-'😀ğüé\u00a0"
    rng = random.Random(7)
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        spoken = normalize_text(text).text
        assert set(spoken) <= characters | {" "}
        assert spoken == spoken.strip() and "  " not in spoken
