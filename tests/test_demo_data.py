"""The bundled demo corpus keeps its contract and goes through prepare_data.py as documented."""

import csv
import json

import soundfile as sf
from helpers import ROOT

import prepare_data
from kurdish_tts.samples.commonvoice import CV_HEADER

DEMO = ROOT / "data" / "demo"
BAD = {"common_voice_kmr_9000.mp3", "common_voice_kmr_9001.mp3", "common_voice_kmr_9004.mp3"}


def rows(name="validated.tsv"):
    with (DEMO / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        assert reader.fieldnames == CV_HEADER
        return list(reader)


def test_demo_folder_contract():
    validated = rows()
    assert len({row["client_id"] for row in validated}) >= 3
    rates = set()
    for row in validated:
        path = DEMO / "clips" / row["path"]
        if row["path"] in BAD:
            continue
        rates.add(sf.info(str(path)).samplerate)
    assert rates == {32000, 44100, 48000}
    assert any(any(ch.isdigit() for ch in row["sentence"]) for row in validated)
    assert any(int(row["down_votes"]) > 0 for row in validated)
    splits = [{row["path"] for row in rows(f"{s}.tsv")} for s in ("train", "dev", "test")]
    assert not (splits[0] & splits[1]) and not (splits[0] & splits[2]) and sum(map(len, splits)) == len(validated)
    assert sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file()) < 5_000_000


def test_demo_goes_through_preparation(tmp_path):
    out = tmp_path / "training"
    assert prepare_data.main(["--dataset", str(DEMO), "--output_dir", str(out)]) == 0
    report = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert report["counts"]["dropped"] == {"vote filter": 6, "missing clip file": 1, "undecodable audio": 1,
                                           "empty file": 1, "silent": 1, "too long": 1, "empty text": 1,
                                           "nothing sayable in text": 1}
    assert report["counts"]["kept"] == 64 and report["speakers"]["count"] == 4
