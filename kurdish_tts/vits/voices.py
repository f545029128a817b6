"""The voices of a VITS model: a one-voice model made multi-voice, voices added to one that has some.

A VITS model speaks with several voices through a table of speaker embeddings and the layers that
add the chosen voice's embedding to the posterior encoder, each flow coupling, the duration
predictor and the decoder (`config.speaker_embedding_size` wide). MMS and the stand-in have none.
`with_voices` builds a model that has them from one that has not: every weight the model had is
kept, the conditioning layers start at zero and the embeddings random, so that at step 0
every voice speaks exactly as the model did; training then moves each voice toward its people. A
model that already has voices gets a new row in its table for each voice it lacks, the mean of its
voices' rows.

The voices' names are saved in the model's config (`config.voices`: the name of each speaker id),
so `VitsModel.from_pretrained` and `pipeline("text-to-speech")` load the folder as any
multi-speaker model, and the toolkit picks a voice by name (`voice_id`).
"""

from __future__ import annotations

import copy
import re

import torch
from torch import nn
from torch.nn.utils import parametrize

# A new voice's embedding: N(0, 1), as VITS's own table starts. The conditioning layers it feeds start
# at zero, so every voice still speaks as the model did at step 0, and their gradient (which grows with
# the embedding) tells the voices apart from the first step; at 0.01 four voices were still one
# blurred voice after 600 steps (BENCHMARKS.md, "Many voices").
EMBEDDING_STD = 1.0


class VoiceError(ValueError):
    """A voice the model does not have, or voices that cannot be added: one line that lists the voices."""


def voice_names(config) -> list[str]:
    """The model's voices by speaker id: `config.voices`, or "0", "1", ... for a multi-speaker model
    that names none; [] for a one-voice model."""
    if config.num_speakers <= 1:
        return []
    names = list(getattr(config, "voices", None) or [])
    return names if len(names) == config.num_speakers else [str(i) for i in range(config.num_speakers)]


def folder_voices(folder) -> list[str]:
    """The voices of the model saved in `folder`, read from its config.json alone (no weights loaded);
    [] for a one-voice model or a folder whose config cannot be read."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    try:
        values = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return voice_names(SimpleNamespace(num_speakers=int(values.get("num_speakers", 1)), voices=values.get("voices")))
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def voice_id(config, voice: str | int | None) -> int | None:
    """The speaker id of `voice` (a name, or an id as a number or digits) for this model; None for a
    one-voice model asked for no voice. VoiceError naming the model's voices when it has no such voice."""
    names = voice_names(config)
    if voice is None or voice == "":
        return 0 if names else None
    if not names:
        raise VoiceError(f"voice {str(voice)[:40]!r}: this model has one voice; leave the voice out")
    if isinstance(voice, int) and 0 <= voice < len(names):  # a number is an id (names may be digits too)
        return voice
    if str(voice) in names:
        return names.index(str(voice))
    if (isinstance(voice, int) or re.fullmatch(r"[0-9]{1,6}", str(voice))) and 0 <= int(voice) < len(names):
        return int(voice)
    raise VoiceError(f"voice {str(voice)[:24]!r}: this model's voices are {', '.join(names)} (ids 0-{len(names) - 1})")


def conditioning_layers(model) -> list[nn.Module]:
    """The layers that add a voice's embedding to the rest of the model."""
    layers = [model.posterior_encoder.wavenet.cond_layer]
    layers += [coupling.wavenet.cond_layer for coupling in model.flow.flows]
    layers += [model.duration_predictor.cond, model.decoder.cond]
    return layers


def _zero(layer: nn.Module) -> None:
    if parametrize.is_parametrized(layer, "weight"):  # weight norm: a zero magnitude gives a zero weight
        nn.init.zeros_(layer.parametrizations.weight.original0)
    else:
        nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


@torch.no_grad()
def with_voices(model, names: list[str], embedding_size: int | None = None):
    """(model, the names added): `model` with a voice for each of `names` it lacks.

    A one-voice model becomes a multi-speaker one whose voices all speak as it did, an embedding
    table `embedding_size` wide (default: the model's hidden size) and conditioning layers at zero;
    a multi-speaker model keeps its voices and width, and each new name gets the mean of their
    embeddings (speaking as the model's average voice until it trains). The model returned is a new
    one; `model` is left as it was."""
    from transformers import VitsModel

    have = voice_names(model.config)
    if have and embedding_size and embedding_size != model.config.speaker_embedding_size:
        raise VoiceError(f"the model's voices are {model.config.speaker_embedding_size} wide, not {embedding_size}: "
                         "leave out --speaker_embedding_size")
    added = [name for name in names if name not in have]
    if not added:
        return model, []
    config = copy.deepcopy(model.config)
    if not have:
        config.speaker_embedding_size = embedding_size or config.hidden_size
    everyone = (have or []) + added
    if len(everyone) < 2:
        raise VoiceError(f"the data names one voice ({everyone[0]}) and the model has none: a model of several voices "
                         "needs two or more; drop the voice column to fine-tune its one voice")
    config.num_speakers, config.voices = len(everyone), everyone
    result = VitsModel(config).to(next(model.parameters()).device)
    state = model.state_dict()
    old_table = state.pop("embed_speaker.weight", None)
    missing, unexpected = result.load_state_dict(state, strict=False)
    if unexpected:
        raise VoiceError(f"cannot add voices to this model: it has weights a VITS model of its config lacks "
                         f"({', '.join(unexpected[:3])})")
    if have:
        allowed = {"embed_speaker.weight"}
    else:
        allowed = {"embed_speaker.weight"} | {name for name in missing if ".cond" in name}
        for layer in conditioning_layers(result):
            _zero(layer)
    if set(missing) - allowed:
        raise VoiceError(f"cannot add voices to this model: its config asks for weights it lacks "
                         f"({', '.join(sorted(set(missing) - allowed)[:3])})")
    table = result.embed_speaker.weight
    nn.init.normal_(table, 0.0, EMBEDDING_STD)
    if old_table is not None:  # the model's voices kept; a new one starts as their mean: the model's average voice
        table[: len(have)] = old_table
        table[len(have):] = old_table.mean(dim=0)
    result.train(model.training)
    return result, added
