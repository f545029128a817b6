#!/usr/bin/env python3
"""The project's sentence list: Kurmanji sentences from a small grammar, split once into groups.

One list keeps apart what each trained thing hears, so that no figure is measured on a
sentence its model was trained on:

    standin    the stand-in pretrained voice learns these (data/pretrained/)
    heldout    20 sentences nobody trains on: the stand-in's and fine-tuning's unseen test set
    judge      the judge (data/judge/, a speech recogniser) learns these, in several voices
    judge_test the judge's own held-out check
    finetune   what the benchmarks fine-tune the stand-in on, in a voice it has not heard

The sentences come from templates (subject, verb conjugated for the person, objects, places,
times, questions, descriptions) filled at random with a fixed seed; none is a sentence of the
demo corpus (data/make_demo.py). Numbers are written as words, so that espeak-ng reads exactly
the text the metadata holds.

    python data/sentences.py            # rewrites data/corpus/sentences.tsv (the same file every time)
    python data/sentences.py --check    # exits 1 when the committed file differs from the grammar's
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from pathlib import Path

from kurdish_tts.samples.sentences import GROUP_SIZES, SENTENCES_FILE
from kurdish_tts.text.normalizer import normalize_text

HERE = Path(__file__).resolve().parent
SEED = 2026

# person -> (subject pronoun, present ending after a consonant, ending after a vowel, "ê" of the future)
PERSONS = {
    "1s": ("ez", "im", "m", "ê"), "2s": ("tu", "î", "yî", "ê"), "3s": ("ew", "e", "ye", "ê"),
    "1p": ("em", "in", "n", "ê"), "2p": ("hûn", "in", "n", "ê"), "3p": ("ew", "in", "n", "ê"),
}
# Subjects that are nouns, with their person: a singular noun is 3s, a plural one 3p.
NOUN_SUBJECTS = [
    ("bavê min", "3s"), ("dayika te", "3s"), ("xwişka wî", "3s"), ("birayê wê", "3s"), ("mamoste", "3s"),
    ("cîranê me", "3s"), ("keça biçûk", "3s"), ("kurê mezin", "3s"), ("hevalê min", "3s"), ("jina pîr", "3s"),
    ("bapîrê wan", "3s"), ("dapîra min", "3s"), ("şivan", "3s"), ("nivîskar", "3s"), ("dixtor", "3s"),
    ("zarok", "3p"), ("şagirt", "3p"), ("gundî", "3p"), ("xwendekar", "3p"), ("hevalên me", "3p"),
    ("mêvanên wan", "3p"), ("karker", "3p"), ("jin û mêr", "3p"), ("keç û xort", "3p"), ("cotkar", "3p"),
]
# Verbs: (present stem, does the stem end in a vowel, subjunctive prefix, preverb).
INTRANSITIVE = [("ç", False, "bi", ""), ("mîn", False, "bi", ""), ("jî", True, "bi", ""), ("meş", False, "bi", ""),
                ("xebit", False, "bi", ""), ("n", False, "bi", "rû"), ("lîz", False, "bi", ""),
                ("axiv", False, "bi", ""), ("sekin", False, "bi", ""), ("bez", False, "bi", ""),
                ("ger", False, "bi", ""), ("z", False, "bi", "ra")]
TRANSITIVE = [("xw", False, "bi", ""), ("xwîn", False, "bi", ""), ("nivîs", False, "bi", ""), ("bîn", False, "bi", ""),
              ("kir", False, "bi", ""), ("froş", False, "bi", ""), ("gir", False, "bi", ""), ("xw", False, "bi", "ve"),
              ("şo", True, "bi", ""), ("pêj", False, "bi", ""), ("b", False, "bi", "hîn "), ("hêl", False, "bi", ""),
              ("guhêz", False, "bi", ""), ("çîn", False, "bi", "")]
OBJECTS = {
    "xw": ["nan", "sêvek", "hinaran", "goşt", "birinc", "xwarina germ", "tirî", "mast û nan", "şorbeyê", "penîr"],
    "xwîn": ["pirtûkekê", "rojnameyê", "helbestan", "nameya te", "dersa xwe", "çîrokeke kevn", "kovarê"],
    "nivîs": ["nameyekê", "helbestekê", "çîrokekê", "navê xwe", "dersa kurdî", "gotarekê", "peyamekê"],
    "bîn": ["çiyayê bilind", "hevalên xwe", "deryayê", "stêrkan", "kewan", "gulên sor", "bajarê nû"],
    "kir": ["nan", "sêv", "kincên nû", "pêlavan", "erebeyeke kevn", "xaniyekî", "penîr û hingiv"],
    "froş": ["pez", "tirî", "hingiv", "xalîçeyan", "sêv û hinar", "kincan", "dar"],
    "gir": ["destê zarokê", "sîwanê", "pirtûka xwe", "kilîtê", "qelemê", "telefonê"],
    "ve-xw": ["çayê", "avê", "qehweyê", "şîr", "dew", "ava sar"],
    "şo": ["kincan", "firaxan", "destên xwe", "erebeyê", "pencereyan"],
    "pêj": ["nan", "xwarinê", "birinc", "kutilk", "şorbeyeke germ"],
    "hîn -b": ["zimanê kurdî", "stranên nû", "navên stêrkan", "helbestan", "lêxistina tembûrê"],
    "hêl": ["derî vekirî", "pirtûkê li vir", "zarokan li malê", "erebeyê li ber derî"],
    "guhêz": ["kursiyan", "maseyê", "barê giran", "kevirên mezin"],
    "çîn": ["daran", "gulan", "genim", "kartolan", "bacanan"],
}
PLACES = ["li malê", "li gund", "li bajêr", "li bazarê", "li dibistanê", "li baxçe", "li ser çiyê", "li ber çem",
          "li nav daristanê", "li kitêbxaneyê", "li nexweşxaneyê", "li zeviyê", "li ber derî", "li hewşê",
          "li Hewlêrê", "li Qamişloyê", "li Mêrdînê", "li Wanê", "li Dihokê", "li Êlihê", "li Colemêrgê"]
GOALS = ["malê", "gund", "bajêr", "bazarê", "dibistanê", "zeviyê", "çiyê", "nav bajêr", "Amûdê", "Sêrtê", "Batmanê",
         "Zaxoyê", "Silêmaniyê", "Efrînê", "Kobanê", "Bazîdê"]
TIMES = ["îro", "sibê", "îşev", "niha", "her roj", "êvarê", "sibehê zû", "roja înê", "hefteya bê", "paşê",
         "carinan", "hertim", "havînê", "zivistanê", "payizê", "biharê", "roja şemiyê", "piştî nîvro"]
MANNERS = ["bi lez", "hêdî hêdî", "bi kêfxweşî", "bi hev re", "bi tenê", "bi dilxweşî", "bi baldarî"]
ADJECTIVES = ["mezin", "biçûk", "xweş", "sar", "germ", "nû", "kevn", "spî", "reş", "sor", "kesk", "zer", "şîn",
              "bilind", "dirêj", "kurt", "zelal", "şîrîn", "tal", "giran", "sivik", "dûr", "nêzîk", "paqij",
              "bedew", "zîrek", "westiyayî", "birçî", "tî", "kêfxweş", "aram", "qelebalix", "vala", "tijî"]
# (noun with its ezafe, so an adjective or possessor can follow)
THINGS = ["mala me", "ava kaniyê", "hewaya îro", "rêya gund", "pirtûka wî", "bajarê wan", "çiyayê Agiriyê",
          "odeya min", "baxçeyê dapîrê", "çaya te", "nanê germ", "dengê wê", "deryaya Wanê", "zeviya cîran",
          "stranên kevn", "gulên baxçe", "erebeya bavê min", "deriyê hewşê", "kolana me", "dibistana nû",
          "çemê Dîcleyê", "sêvên darê", "hespê reş", "pisîka spî", "kûçikê gund", "xwarina dayikê",
          "şeva dawî", "roja yekem", "zimanê me", "dilê wî", "çavên wê", "destên bapîr", "serê çiyê"]
DEGREES = ["pir", "gelek", "hinekî", "ne zêde", "her tim", "bi rastî"]
NUMBERS = ["du", "sê", "çar", "pênc", "şeş", "heft", "heşt", "neh", "deh", "yanzdeh", "dwanzdeh", "bîst", "sî",
           "çil", "pêncî", "sed", "hezar"]
COUNTED = ["sêv", "pirtûk", "zarok", "pez", "mal", "dar", "hesp", "rojan", "salan", "kîlometre", "xwendekar",
           "stran", "deqe", "mirîşk"]
QUESTION_WORDS = ["kengî", "çima", "çawa", "li ku", "bi kê re", "ji bo çi"]
EXTRA = """\
Berfa spî hemû gund girtiye.
Bi şev stêrk li ezmên dibiriqin.
Xwezî em hemû bi hev re bûna.
Kewê çiyê li ser kevirekî rûniştiye.
Çûkên biçûk li ser dara hinarê distrên.
Pezê gund di mêrgeke kesk de diçêre.
Li vê deverê zivistan dirêj û sar e.
Qelema şîn li kêleka pirtûkê ye.
Ji kerema xwe derî bigire.
Her sal em diçin gundê bapîrê xwe.
Jiyan bê heval ne xweş e.
Şivan bi bilûra xwe stranekê lê dixe.
Pirsa te pir baş bû.
Xwendin çavê mirov vedike.
Aşê gund li ber çemê ye.
Dewsa wî li ser berfê diyar e.
Zarokên cîran her êvar top dilîzin.
Baweriya min bi te heye.
Bayê payizê pelên daran dibe.
Xelk li meydanê kom bûne.
Pêşiyan gotiye, dilop dilop dibe gol.
Heta sibê baran nasekine.
Wî nanê xwe bi min re parve kir.
Qehweya tal li ber dilê min şêrîn e.
Xortê ciwan bi hespê xwe çû.
Keçikê gul ji baxçe çinîn.
Di çiyayan de hewa paqij e.
Şagirtan pirsên xwe ji mamoste kirin.
Jixwe em hemû hevalên hev in.
Ew ji bo azadiyê dixebitin.
"""


def conjugate(stem: str, vowel: bool, person: str, preverb: str = "", mood: str = "di") -> str:
    """Present ("di") or subjunctive ("bi") form: dixwînim, dijîm, bixwim, vedixwin, rûnin, hîn bibe.

    A stem ending in a vowel takes -m, -yî (-î after î: dijî), nothing in the third person
    singular, -n; a preverb joined to the verb (ve-, rû-, ra-) drops the subjunctive bi-."""
    ending = PERSONS[person][2] if vowel else PERSONS[person][1]
    if vowel and (person == "3s" or person == "2s" and stem.endswith("î")):
        ending = ""
    if mood == "bi" and preverb and not preverb.endswith(" "):
        mood = ""
    return preverb + mood + stem + ending


def future(who: str) -> str:
    """The future particle after the subject: ez ê, tu yê, em ê; dê after a noun (hevalê min dê)."""
    return {"tu": "yê"}.get(who, "ê" if who in {p[0] for p in PERSONS.values()} else "dê")


def subject(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        person = rng.choice(list(PERSONS))
        return PERSONS[person][0], person
    return rng.choice(NOUN_SUBJECTS)


def capitalise(words: list[str], end: str = ".") -> str:
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:] + end


def transitive_sentence(rng: random.Random) -> str:
    stem, vowel, _, preverb = rng.choice(TRANSITIVE)
    key = f"{preverb}-{stem}" if preverb else stem  # "ve-xw" (vexwarin), "hîn -b" (hîn bûn)
    who, person = subject(rng)
    what = rng.choice(OBJECTS[key])
    if rng.random() < 0.35:  # the future: "ez ê ... bixwim"
        return capitalise([who, future(who), rng.choice(TIMES + [""]), what, conjugate(stem, vowel, person, preverb, "bi")])
    extra = rng.choice([rng.choice(TIMES), rng.choice(PLACES), rng.choice(MANNERS), ""])
    return capitalise([who, extra, what, conjugate(stem, vowel, person, preverb)])


def intransitive_sentence(rng: random.Random) -> str:
    stem, vowel, _, preverb = rng.choice(INTRANSITIVE)
    who, person = subject(rng)
    if stem == "ç":
        verb = conjugate(stem, vowel, person)
        if rng.random() < 0.4:
            return capitalise([who, future(who), rng.choice(TIMES), conjugate(stem, vowel, person, mood="bi"), rng.choice(GOALS)])
        return capitalise([who, rng.choice(TIMES + MANNERS), verb, rng.choice(GOALS)])
    return capitalise([who, rng.choice(TIMES + [""]), rng.choice(PLACES + MANNERS), conjugate(stem, vowel, person, preverb)])


def description_sentence(rng: random.Random) -> str:
    thing = rng.choice(THINGS)
    adjectives = rng.sample(ADJECTIVES, 2 if rng.random() < 0.3 else 1)
    if thing.split()[0].endswith("ên"):  # a plural subject
        copula = "in"
    else:  # "e" after a consonant, "ye" after a vowel
        copula = "ye" if adjectives[-1].endswith(("î", "e", "a")) else "e"
    return capitalise([thing, rng.choice(DEGREES + [""]), " û ".join(adjectives), copula])


def count_sentence(rng: random.Random) -> str:
    number, noun = rng.choice(NUMBERS), rng.choice(COUNTED)
    person = rng.choice(list(PERSONS))
    forms = [
        ["li", rng.choice(["gund", "bazarê", "malê", "baxçe"]), number, noun, "hene"],
        [PERSONS[person][0], number, noun, conjugate(rng.choice(["bîn", "jmêr", "xwaz", "kir"]), False, person)],
        ["ji", "vir", "heta", rng.choice(GOALS), number, "kîlometre", "ye"],
    ]
    return capitalise(rng.choice(forms))


def question_sentence(rng: random.Random) -> str:
    who, person = subject(rng)
    stem, vowel, _, _ = rng.choice(INTRANSITIVE[:5])
    asks = rng.choice(QUESTION_WORDS)
    if stem == "ç":
        return capitalise([who, asks, conjugate(stem, vowel, person), rng.choice(GOALS)], "?")
    return capitalise([who, asks, conjugate(stem, vowel, person)], "?")


def compound_sentence(rng: random.Random) -> str:
    first = rng.choice([transitive_sentence, intransitive_sentence, description_sentence])(rng)[:-1]
    second = rng.choice([transitive_sentence, intransitive_sentence, description_sentence])(rng)[:-1]
    joiner = rng.choice(["û", "lê", "ji ber ku", "dema ku"])
    return f"{first}, {joiner} {second[0].lower() + second[1:]}."


MAKERS = [(transitive_sentence, 3), (intransitive_sentence, 3), (description_sentence, 2), (count_sentence, 1),
          (question_sentence, 1), (compound_sentence, 1)]


def demo_sentences() -> set[str]:
    """The demo corpus' sentences, as the normaliser speaks them: none may appear here."""
    spec = importlib.util.spec_from_file_location("make_demo", HERE / "make_demo.py")  # a script beside this one
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    return {normalize_text(s).text for s in make_demo.SENTENCES.splitlines() if s.strip()}


def generate() -> list[tuple[str, str, str]]:
    """-> [(id, group, sentence)], the same list every time."""
    rng = random.Random(SEED)
    banned = demo_sentences()
    seen: set[str] = set()
    sentences = []
    for line in EXTRA.splitlines():
        seen.add(normalize_text(line).text)
        sentences.append(line)
    makers, weights = zip(*MAKERS)
    total = sum(GROUP_SIZES.values())
    while len(sentences) < total:
        sentence = rng.choices(makers, weights)[0](rng)
        key = normalize_text(sentence).text
        if key in seen or key in banned or len(key.split()) < 3:
            continue
        seen.add(key)
        sentences.append(sentence)
    rng.shuffle(sentences)
    rows, start = [], 0
    for group, size in GROUP_SIZES.items():
        for n, sentence in enumerate(sentences[start:start + size]):
            rows.append((f"{group}_{n:04d}", group, sentence))
        start += size
    return rows


def render(rows: list[tuple[str, str, str]]) -> str:
    return "id\tgroup\tsentence\n" + "".join(f"{i}\t{g}\t{s}\n" for i, g, s in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the committed file with the grammar's output")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        same = SENTENCES_FILE.is_file() and SENTENCES_FILE.read_text(encoding="utf-8") == text
        print(f"{SENTENCES_FILE}: {'up to date' if same else 'differs from the grammar: run python data/sentences.py'}")
        return 0 if same else 1
    SENTENCES_FILE.parent.mkdir(parents=True, exist_ok=True)
    SENTENCES_FILE.write_text(text, encoding="utf-8")
    counts = {group: size for group, size in GROUP_SIZES.items()}
    print(f"wrote {SENTENCES_FILE}: {sum(counts.values())} sentences ({', '.join(f'{g} {n}' for g, n in counts.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
