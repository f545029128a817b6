"""A/B listening votes between two served models, and their win rates per pair of weights.

    <data_dir>/service/ab.jsonl    one vote a line, with both models' weight hashes
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from kurdish_tts.files import locked
from kurdish_tts.serving.keys import SERVICE_DIR

VOTES_FILE = "ab.jsonl"


def wilson(wins: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); ties count half a win."""
    if count == 0:
        return 0.0, 1.0
    p = wins / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


class Votes:
    """A/B listening votes, one JSON line each, appended under the service folder's lock."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / SERVICE_DIR
        self.path = self.folder / VOTES_FILE

    def add(self, vote: dict) -> None:
        line = json.dumps(vote, ensure_ascii=False) + "\n"
        with locked(self.folder / ".lock"), open(self.path, "a+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":  # a line a crash cut short: this vote starts a line of its own
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        votes = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():  # a character cut too
            try:
                votes.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash: the others count
                continue
        return votes

    def summary(self) -> list[dict]:
        """Win rates per pair of (model, weights): the pair in a fixed order, ties half a win each."""
        rows: dict[tuple, dict] = {}
        for vote in self.read():
            a, b = (vote["a"], vote["a_weights"]), (vote["b"], vote["b_weights"])
            first, second = sorted([a, b])
            row = rows.setdefault((first, second), {"a": first[0], "a_weights": first[1], "b": second[0],
                                                    "b_weights": second[1], "count": 0, "a_wins": 0.0, "ties": 0})
            row["count"] += 1
            if vote["winner"] == "tie":
                row["ties"] += 1
                row["a_wins"] += 0.5
            elif (vote["winner"] == "a") == (a == first):
                row["a_wins"] += 1.0
        for row in rows.values():
            low, high = wilson(row["a_wins"], row["count"])
            row.update(a_win_rate=row["a_wins"] / row["count"], a_win_rate_95=[round(low, 4), round(high, 4)])
        return list(rows.values())
