"""The characters the model can say, and the tokenizer built from them.

The MMS tokenizer (`VitsTokenizer`) lower-cases its input and silently drops every
character outside its vocabulary, so every stage checks text against the vocabulary
of the model it works with. That vocabulary comes from the model's own tokenizer when
the model can be loaded; offline, it falls back to a built-in copy of the Kurmanji
Latin alphabet of the MMS model.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from kurdish_tts import hub

MMS_KURMANJI = "facebook/mms-tts-kmr-script_latin"

# Id 0 is the blank the tokenizer inserts between characters (add_blank) and the pad. In Meta's MMS
# vocabularies it is also a letter of the alphabet (the Kurmanji one's is "n": its pad token), so
# that letter and the blank share an id; the built-in vocabulary gives the blank a token of its own.
BLANK = "_"
# The Kurmanji Latin (Hawar) alphabet: 26 ASCII letters plus ç ê î ş û, with the space,
# apostrophe and hyphen that the MMS Kurmanji tokenizer keeps.
KURMANJI_CHARACTERS = [BLANK, " ", "'", "-"] + list("abcçdeêfghiîjklmnopqrsştuûvwxyz")
BUILTIN_VOCAB: dict[str, int] = {char: index for index, char in enumerate(KURMANJI_CHARACTERS)}
# The real MMS Kurmanji vocabulary (facebook/mms-tts-kmr-script_latin's vocab.json), in its own order:
# "n" at id 0 doubles as the blank and pad. The stand-in voice (data/pretrained/) uses it, so that
# whatever fine-tunes the stand-in sees MMS's token ids.
MMS_KURMANJI_VOCAB: dict[str, int] = {
    "n": 0, "h": 1, "ş": 2, "ê": 3, "e": 4, "p": 5, "c": 6, "x": 7, "w": 8, "j": 9, "d": 10, "s": 11, "ç": 12,
    "-": 13, "o": 14, "î": 15, "m": 16, "û": 17, "k": 18, "l": 19, "a": 20, "b": 21, "_": 22, "z": 23, "'": 24,
    "u": 25, "f": 26, "v": 27, "q": 28, " ": 29, "y": 30, "t": 31, "i": 32, "g": 33, "r": 34, "<unk>": 35,
}


@dataclass(frozen=True)
class Vocabulary:
    """A model's character vocabulary: `characters` are what text may contain."""

    token_to_id: dict[str, int]
    source: str  # where it came from: a model folder, a hub id, or "built-in"

    @property
    def characters(self) -> frozenset[str]:
        """Speakable characters: every single-character token, the one at id 0 too (in an MMS
        vocabulary it is a letter), except the built-in vocabulary's blank."""
        return frozenset(t for t in self.token_to_id if len(t) == 1 and t != BLANK)


def builtin_vocabulary() -> Vocabulary:
    return Vocabulary(dict(BUILTIN_VOCAB), "built-in")


def mms_vocabulary() -> Vocabulary:
    """MMS Kurmanji's own vocabulary, without asking the hub."""
    return Vocabulary(dict(MMS_KURMANJI_VOCAB), MMS_KURMANJI)


class VocabularyUnavailable(FileNotFoundError):
    """The model's vocabulary cannot be had: no such model folder, or the hub refused the download."""


def load_vocabulary(model_name_or_path: str | Path, *, quiet: bool = False) -> Vocabulary:
    """The vocabulary of a local model folder or hub model; built-in when the hub is out of reach.

    A local folder must hold `vocab.json`; a value that looks like a path (or names a file) but is
    no folder is an error, never a hub id. A hub id is asked for once, after a quick reachability
    check, so that an offline machine falls back in about a second; a hub that answers but cannot
    give the vocabulary (no such model, no vocab.json, access denied) is an error.
    """
    local = Path(model_name_or_path).expanduser()
    if local.is_dir():
        vocab_file = local / "vocab.json"
        if not vocab_file.is_file():
            raise FileNotFoundError(f"{local} has no vocab.json: pass a model folder saved by transformers")
        return read_vocabulary(vocab_file, str(local))
    if looks_like_path(model_name_or_path):
        what = "is a file" if local.exists() else "does not exist"
        raise VocabularyUnavailable(f"model folder not found: {model_name_or_path} {what}; "
                                    f"pass a folder that holds vocab.json, or a hub id like {MMS_KURMANJI}")
    if not hub.reachable():
        if not quiet:
            print(
                f"notice: the model hub is unreachable; using the built-in Kurmanji vocabulary "
                f"instead of {model_name_or_path}'s",
                file=sys.stderr,
            )
        return builtin_vocabulary()
    import huggingface_hub
    from huggingface_hub import errors

    try:
        path = huggingface_hub.hf_hub_download(str(model_name_or_path), "vocab.json")
    except (errors.EntryNotFoundError, OSError, ValueError) as e:  # the hub's HTTP errors are OSErrors
        raise VocabularyUnavailable(f"cannot download the vocabulary of hub model {model_name_or_path!r}: "
                                    f"{hub.error_line(e)}") from e
    return read_vocabulary(Path(path), str(model_name_or_path))


def read_vocabulary(path: Path, source: str) -> Vocabulary:
    """A vocab.json (character -> id); VocabularyUnavailable, in one line, when it cannot be read as one."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # not UTF-8, not JSON
        raise VocabularyUnavailable(f"{path} is damaged ({e}): copy the model folder again") from None
    if not isinstance(table, dict) or not all(isinstance(i, int) for i in table.values()):
        raise VocabularyUnavailable(f"{path} is not a vocabulary (an object of characters and ids): "
                                    "copy the model folder again")
    return Vocabulary(table, source)


def looks_like_path(name: str | Path) -> bool:
    """A local path rather than a hub id: absolute, relative to . or .., in a home folder, or an existing file."""
    text = str(name)
    return isinstance(name, Path) or text.startswith(("/", "./", "../", "~")) or Path(text).expanduser().is_file()


def write_tokenizer_files(folder: Path, vocabulary: Vocabulary) -> None:
    """Save a `VitsTokenizer` for `vocabulary` into `folder` (vocab.json and its config)."""
    tokenizer = build_tokenizer(vocabulary, folder)
    tokenizer.save_pretrained(folder)


def build_tokenizer(vocabulary: Vocabulary, scratch: Path | None = None):
    """A `VitsTokenizer` over `vocabulary`, configured as the MMS Kurmanji one (no phonemizer)."""
    import tempfile

    from transformers import VitsTokenizer

    pad = next(t for t, i in vocabulary.token_to_id.items() if i == 0)
    unknown = "<unk>" if "<unk>" in vocabulary.token_to_id else pad  # MMS vocabularies end with <unk>
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(scratch or tmp) / "vocab.json"
        vocab_file.parent.mkdir(parents=True, exist_ok=True)
        vocab_file.write_text(json.dumps(vocabulary.token_to_id, ensure_ascii=False), encoding="utf-8")
        return VitsTokenizer(
            str(vocab_file),
            pad_token=pad,
            unk_token=unknown,
            add_blank=True,
            normalize=True,
            phonemize=False,
            is_uroman=False,
        )
