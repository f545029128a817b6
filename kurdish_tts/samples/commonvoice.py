"""Common Voice in the layouts prepare_data.py reads, filled with speech-like clips: a release
folder (validated.tsv + clips/*.mp3) and a hub mirror's table."""

from __future__ import annotations

import csv
from pathlib import Path

from kurdish_tts.samples.signals import encode, speech_like

CV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
             "age", "gender", "accents", "variant", "locale", "segment"]


def default_rows(n: int = 8) -> list[dict]:
    """`n` good rows from two speakers, with digits, capitals and punctuation in the text."""
    sentences = ["Ez 25 salî me.", "Îro hewa pir xweş e!", "Şêx û Ç: “baş”", "Ew di sala 1984an de hat.",
                 "Bihayê wê 3,5 lîre ye?", "Em ê sibê biçin Amedê.", "Rojbaş, tu çawa yî?", "Ez ji te hez dikim."]
    return [
        {"client_id": "a" * 64 if i % 3 else "b" * 64, "sentence": sentences[i % len(sentences)],
         "seconds": 1.4 + 0.15 * (i % 5), "up_votes": 2, "down_votes": 0,
         "gender": "female_feminine" if i % 3 else "male_masculine"}
        for i in range(n)
    ]


def write_release(folder: Path, rows: list[dict], rate: int = 44100) -> Path:
    """A Common Voice release folder: validated.tsv (13 columns) and clips/*.mp3.

    A row may carry `audio` (raw bytes to store as is), `missing` (no file written) or `path`.
    """
    clips = folder / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    with (folder / "validated.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(CV_HEADER)
        for i, row in enumerate(rows):
            name = row.get("path", f"common_voice_kmr_{i}.mp3")
            if not row.get("missing") and "/" not in name:
                data = row.get("audio")
                if data is None:
                    data = encode(speech_like(row["seconds"], rate, seed=i), rate)
                (clips / name).write_bytes(data)
            writer.writerow([row["client_id"], name, f"s{i}", row["sentence"], "", row.get("up_votes", 2),
                             row.get("down_votes", 0), "twenties", row.get("gender", ""), "", "", "kmr", ""])
    return folder


def hub_table(rows: list[dict], audio_column: str = "path", rate: int = 16000):
    """A `datasets.Dataset` in the hub mirror layout, audio as a {bytes, path} struct column.

    A row may carry `audio` (the bytes to store, None for none) or `path` (the name inside the struct).
    """
    import datasets

    records = {"client_id": [], audio_column: [], "sentence": [], "up_votes": [], "down_votes": [], "gender": []}
    for i, row in enumerate(rows):
        records["client_id"].append(row["client_id"])
        data = row["audio"] if "audio" in row else encode(speech_like(row["seconds"], rate, seed=i), rate, "WAV")
        records[audio_column].append({"bytes": data, "path": row.get("path", f"common_voice_kmr_{i}.mp3")})
        records["sentence"].append(row["sentence"])
        records["up_votes"].append(row.get("up_votes", 2))
        records["down_votes"].append(row.get("down_votes", 0))
        records["gender"].append(row.get("gender", ""))
    return datasets.Dataset.from_dict(records)
