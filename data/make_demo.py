#!/usr/bin/env python3
"""Regenerate the bundled demo corpus `data/demo/`: a small Common Voice release folder.

Kurmanji sentences written for this toolkit are spoken by four natural speakers of
data/corpus/speakers.json (kurdish_tts/samples/natural.py), one per `client_id`, with uneven clip
counts, each clip recorded as a volunteer's laptop would (room, microphone band, background noise,
level, silence at both ends: kurdish_tts/samples/conditions.py) and encoded as mp3 at mixed sample
rates, as Common Voice clips are. A few rows are bad on
purpose (corrupt, empty, silent, too long, missing file, empty or unsayable text) and a few
are down-voted, so that every filter of prepare_data.py has work to do.

Needs the Debian packages espeak-ng (its IPA) and lame (`apt-get install espeak-ng lame`).

    python data/make_demo.py                 # rewrites data/demo/
    python data/make_demo.py --output /tmp/demo
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from kurdish_tts.samples import natural
from kurdish_tts.samples.commonvoice import CV_HEADER
from kurdish_tts.samples.conditions import RATES, record

# (natural speaker, share of the sentences): one speaker clearly has the most clips. The busiest, the
# demo's fine-tuning target, is one the judge never hears (its role in data/corpus/speakers.json).
VOICES = [("hevi", 0.4), ("azad", 0.2), ("rojda", 0.2), ("welat", 0.2)]
GENDERS = {"female": "female_feminine", "male": "male_masculine"}
SENTENCES = """\
Rojbaş, navê min Azad e.
Ez 25 salî me û li Amedê dijîm.
Îro hewa pir xweş e.
Tu çawa yî, hevalê min?
Em ê sibê biçin bazarê.
Bihayê nan 3,5 lîre ye.
Ew di sala 1984an de hat dinyayê.
Zarok li baxçe dilîzin.
Dayika min çayê çêdike.
Ez ji te hez dikim.
Pirtûka te li ser maseyê ye.
Baran dibare, sîwana xwe bigire.
Bavê min 60 salî ye.
Ev 2. car e ku ez tê me vir.
Çiya bi berfê spî bûne.
Em çar bira ne.
Dibistan di saet 8an de dest pê dike.
Hespê qehweyî bi lez direve.
Gundê me li ber çemê ye.
Şev baş, xewna xweş!
“Were vir,” got bapîr.
Ez ê te li benda bim.
Pisîk li ser banî razaye.
Sêv sor û şîrîn in.
Hezar û yek şev hene.
Kitêbxane di 9:30an de vedibe.
Ji sedî 20 erzantir e.
Ez nizanim ew kengî tê.
Heval, ka em herin!
Ava kaniyê sar e.
Ez her roj 2 kîlometre dimeşim.
Xwişka min mamoste ye.
Îsal zivistan dijwar bû.
Ev xaniyê me yê nû ye.
Tu dikarî alîkariya min bikî?
Nanê germ bêhneke xweş dide.
Rêya gund dirêj e.
Em li benda bihara nû ne.
Qelema xwe bide min.
Dengê te pir xweş e.
Ew 100 pez di mêrgê de diçêrînin.
Hinar li Kurdistanê gelek in.
Şagirt dersa xwe dixwînin.
Dê û bav zarokên xwe hez dikin.
Ez ê nameyekê ji te re binivîsim.
Çima tu dereng mayî?
Ronahiya rojê ket odeyê.
Ev stran ji dil tê.
Em ê îşev fîlmekî temaşe bikin.
Keç û kur bi hev re stranan dibêjin.
Bajarê me 1.500.000 niştecih hene.
Ez’ê sibê bêm.
Xwarin amade ye, werin!
Li vir bisekine û li min guhdarî bike.
Zimanê kurdî dewlemend e.
Ew ji Wanê hatine.
Ez bi trênê diçim Stenbolê.
Rûpela 45an veke.
Mêvanên me îro tên.
Ez ê çayê vexwim.
Ew li ser çiyê mezin dijîn.
Pênc û pênc dibin deh.
Dara gûzê pir kevn e.
Hêlîna çûkan li ser darê ye.
Roj li rojhilatê hiltê.
Ez dixwazim kurdî baş hîn bibim.
Dema xwe winda neke!
Ew —hevalê min— hat.
Sibeha te bi xêr!
Gelek spas ji bo alîkariya te.
"""
BAD_ROWS = ["corrupt", "empty", "silent", "too_long", "missing", "no_text", "unsayable"]


def client_id(voice: str) -> str:
    return hashlib.sha256(f"demo-speaker-{voice}".encode()).hexdigest()


def speak(text: str, voice: str, rate: int, rng: np.random.Generator) -> np.ndarray:
    """The natural speaker `voice` saying `text`, recorded in Common Voice conditions, float audio at `rate`."""
    return record(natural.speak(text, natural.speaker(voice), rate), rate, rng)[0]


def to_mp3(audio: np.ndarray, rate: int) -> bytes:
    """Encode with lame at a modest bitrate so that the corpus stays small."""
    wav = io.BytesIO()
    sf.write(wav, audio, rate, format="WAV", subtype="PCM_16")
    # --resample keeps the input rate: at this bitrate lame would otherwise pick 22.05 kHz for every clip
    command = ["lame", "--quiet", "-m", "m", "-b", "32", "--resample", f"{rate / 1000:g}", "-", "-"]
    return subprocess.run(command, input=wav.getvalue(), check=True,
                          capture_output=True).stdout


def build(folder: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    clips = folder / "clips"
    clips.mkdir(parents=True)
    sentences = [line for line in SENTENCES.splitlines() if line.strip()]
    weights = np.array([share for _, share in VOICES])
    speakers = rng.choice(len(VOICES), size=len(sentences), p=weights / weights.sum())
    rows, durations = [], []
    for n, sentence in enumerate(sentences):
        voice, _ = VOICES[speakers[n]]
        gender = GENDERS[natural.speaker(voice).sex]
        rate = RATES[n % len(RATES)]
        name = f"common_voice_kmr_{4000 + n}.mp3"
        audio = speak(sentence, voice, rate, rng)
        (clips / name).write_bytes(to_mp3(audio, rate))
        durations.append((name, int(len(audio) / rate * 1000)))
        up, down = (int(rng.integers(2, 5)), 0) if n % 13 else (int(rng.integers(0, 2)), int(rng.integers(1, 3)))
        rows.append([client_id(voice), name, hashlib.sha1(sentence.encode()).hexdigest(), sentence, "", up, down,
                     "twenties", gender, "", "", "kmr", ""])
    voice, _ = VOICES[0]
    gender = GENDERS[natural.speaker(voice).sex]
    for k, kind in enumerate(BAD_ROWS):
        name = f"common_voice_kmr_{9000 + k}.mp3"
        sentence = {"no_text": "", "unsayable": "?! … ?"}.get(kind, sentences[k])
        if kind == "corrupt":
            (clips / name).write_bytes(rng.bytes(3000))
        elif kind == "empty":
            (clips / name).write_bytes(b"")
        elif kind == "silent":
            (clips / name).write_bytes(to_mp3(np.zeros(3 * 32000, np.float32), 32000))
        elif kind == "too_long":
            sentence = " ".join(sentences[10:22])
            (clips / name).write_bytes(to_mp3(speak(sentence, voice, 32000, rng), 32000))
        elif kind != "missing":
            (clips / name).write_bytes(to_mp3(speak(sentences[k], voice, 32000, rng), 32000))
        rows.append([client_id(voice), name, hashlib.sha1(f"bad-{kind}".encode()).hexdigest(), sentence, "", 3, 0,
                     "twenties", gender, "", "", "kmr", ""])
    write_tsv(folder / "validated.tsv", rows)
    order = rng.permutation(len(rows))
    thirds = np.array_split(order, [int(0.7 * len(rows)), int(0.85 * len(rows))])
    for split, indices in zip(("train", "dev", "test"), thirds):
        write_tsv(folder / f"{split}.tsv", [rows[i] for i in sorted(indices)])
    with (folder / "clip_durations.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write("clip\tduration[ms]\n" + "".join(f"{name}\t{ms}\n" for name, ms in durations))


def write_tsv(path: Path, rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(CV_HEADER)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "demo")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "lame") if shutil.which(tool) is None]
    if missing:
        print(f"error: {' and '.join(missing)} not found: apt-get install espeak-ng lame", file=sys.stderr)
        return 1
    readme = args.output / "README.md"
    kept_readme = readme.read_text(encoding="utf-8") if readme.is_file() else None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.output.parent) as tmp:
        build(Path(tmp) / "demo", args.seed)
        if kept_readme is not None:
            (Path(tmp) / "demo" / "README.md").write_text(kept_readme, encoding="utf-8")
        shutil.rmtree(args.output, ignore_errors=True)
        shutil.move(str(Path(tmp) / "demo"), args.output)
    size = sum(p.stat().st_size for p in args.output.rglob("*") if p.is_file())
    print(f"wrote {args.output}: {len(list((args.output / 'clips').iterdir()))} clips, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
