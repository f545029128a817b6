"""Access keys for the service's writes (feedback, votes), kept in the service folder of the
training folder; only their sha256 is stored, the key itself is shown once. An admin key may also
remove feedback another key sent.

    <data_dir>/service/keys.json   key name -> {"sha256": ..., "admin": true|false} (older files: the sha256 alone)
    <data_dir>/service/.lock       held while keys.json or ab.jsonl is written
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from kurdish_tts.files import locked, write_text_atomic
from kurdish_tts.serving.errors import ServiceError

SERVICE_DIR = "service"  # under <data_dir>: the service's keys and votes
KEYS_FILE = "keys.json"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeysDamaged(RuntimeError):
    """keys.json cannot be read: the operator's to mend (a request gets the service's plain 500, the log says why)."""


class Keys:
    """Access keys for the service's writes; only their sha256 is kept."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / SERVICE_DIR
        self.path = self.folder / KEYS_FILE

    def read(self) -> dict[str, dict]:
        """Key name -> {"sha256", "admin"}."""
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}
            if not isinstance(stored, dict):
                raise TypeError("not an object of key names")
        except (ValueError, TypeError) as e:  # not JSON, not UTF-8, not an object: written by hand, or damaged
            raise KeysDamaged(f"{self.path} is damaged ({e}): mend it, or move it away and make the keys again "
                              "(--add_key)") from None
        return {name: row if isinstance(row, dict) else {"sha256": row, "admin": False} for name, row in stored.items()}

    def add(self, name: str, admin: bool = False) -> str:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ServiceError(400, f"key name {name!r}: use letters, digits, '-' and '_'")
        key = secrets.token_urlsafe(32)
        with locked(self.folder / ".lock"):
            keys = self.read()
            if name in keys:
                raise ServiceError(409, f"a key named {name!r} exists: --remove_key it first or pick another name")
            keys[name] = {"sha256": key_digest(key), "admin": admin}
            write_text_atomic(self.path, json.dumps(keys, indent=1))
        return key

    def remove(self, name: str) -> None:
        with locked(self.folder / ".lock"):
            keys = self.read()
            if name not in keys:
                raise ServiceError(404, f"no key named {name!r}")
            del keys[name]
            write_text_atomic(self.path, json.dumps(keys, indent=1))

    def owner(self, key: str) -> str | None:
        """The name of the key `key`, compared in constant time against every stored digest."""
        digest = key_digest(key)
        found = None
        for name, stored in self.read().items():
            if hmac.compare_digest(digest, stored["sha256"]):
                found = name
        return found

    def is_admin(self, name: str) -> bool:
        return bool(self.read().get(name, {}).get("admin"))
