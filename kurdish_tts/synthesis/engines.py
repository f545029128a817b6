"""Synthesis as two pure functions of their inputs, in PyTorch or in ONNX Runtime.

`VitsModel.forward` draws its own noise inside the network, so two runtimes can never give the
same audio, and the output length depends on values computed in the middle of the graph. Here
synthesis is cut where the length becomes known:

    TextToDurations: token ids, mask, duration noise [B, 2, T_text], length scale
                     -> frames per token [B, T_text], prior means and log-std [B, C, T_text]
    DurationsToAudio: frames per token, prior, mask, prior noise [B, C, T_frames]
                     -> waveform [B, T_frames * hop]

The caller draws both noises (seeded NumPy), so the PyTorch and the ONNX path compute the same
function of the same numbers. Both stages are built from `VitsModel`'s own modules.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kurdish_tts.files import staged_folder
from kurdish_tts.vits.duration import decode_durations, text_condition

ENCODER_FILE = "text_to_durations.onnx"
DECODER_FILE = "durations_to_audio.onnx"  # flow and vocoder in one graph: exports made before streaming
LATENTS_FILE, VOCODER_FILE = "durations_to_latents.onnx", "latents_to_audio.onnx"  # the two apart: exports now
# The text encoder's relative attention pads differently below window_size + 2 tokens; an exported
# graph keeps only one of the two branches, so every input is padded (masked) to at least this.
MIN_TOKENS = 8
# The noise VITS samples at inference, as MMS ships it: variation of the voice and of the rhythm.
NOISE_SCALE, NOISE_SCALE_DURATION = 0.667, 0.8


class _Stage(nn.Module):
    """One stage of synthesis over a `VitsModel`'s modules."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def speaker(self, speaker_id):
        """[B] speaker ids -> [B, E, 1] embeddings, or None for a one-voice model."""
        return self.model.embed_speaker(speaker_id).unsqueeze(-1) if speaker_id is not None else None


class TextToDurations(_Stage):
    """Text encoder and duration predictor (stochastic predictor run in reverse on given noise)."""

    def forward(self, input_ids, attention_mask, duration_noise, length_scale, speaker_id=None):
        model, speaker = self.model, self.speaker(speaker_id)
        mask = attention_mask.unsqueeze(1).to(torch.float32)  # [B, 1, T_text]
        encoded = model.text_encoder(input_ids=input_ids, padding_mask=mask.transpose(1, 2), attention_mask=attention_mask)
        hidden = encoded.last_hidden_state.transpose(1, 2)  # [B, H, T_text]
        predictor = model.duration_predictor
        if model.config.use_stochastic_duration_prediction:
            condition = text_condition(predictor, hidden, mask, speaker)
            log_durations = decode_durations(predictor, condition, mask, duration_noise)
        else:
            log_durations = predictor(hidden, mask, speaker)  # [B, 1, T_text]
        durations = torch.ceil(torch.exp(log_durations) * mask * length_scale).squeeze(1)  # [B, T_text] frames
        return durations, encoded.prior_means.transpose(1, 2), encoded.prior_log_variances.transpose(1, 2)


def expand_prior(durations, prior_means, prior_log_std, attention_mask, frames):
    """The prior along the frames: token t covers frames [end_t - d_t, end_t). `frames` [T_frames] are
    the frame positions. -> means and log-std [B, C, T_frames], frame mask [B, 1, T_frames]."""
    durations = durations * attention_mask.to(durations.dtype)  # [B, T_text]
    ends = torch.cumsum(durations, dim=1).unsqueeze(-1)  # [B, T_text, 1]
    path = ((frames < ends) & (frames >= ends - durations.unsqueeze(-1))).to(prior_means.dtype)  # [B, T_text, T_frames]
    frame_mask = (frames < ends[:, -1]).unsqueeze(1).to(prior_means.dtype)  # [B, 1, T_frames]
    return torch.matmul(prior_means, path), torch.matmul(prior_log_std, path), frame_mask


class DurationsToAudio(_Stage):
    """Prior expanded along the durations, sampled with the given noise, flow reversed, HiFi-GAN."""

    def forward(self, durations, prior_means, prior_log_std, attention_mask, prior_noise, speaker_id=None):
        latents = self.latents(durations, prior_means, prior_log_std, attention_mask, prior_noise, speaker_id)
        return self.decode(latents, self.speaker(speaker_id))

    def latents(self, durations, prior_means, prior_log_std, attention_mask, prior_noise, speaker_id=None):
        """The decoder's input [B, C, T_frames]: the prior sampled with `prior_noise`, the flow reversed."""
        frames = torch.arange(prior_noise.shape[2], device=durations.device, dtype=durations.dtype)  # [T_frames]
        means, log_std, frame_mask = expand_prior(durations, prior_means, prior_log_std, attention_mask, frames)
        return self.flowed(means + prior_noise * torch.exp(log_std), frame_mask, self.speaker(speaker_id))

    def flowed(self, latents, frame_mask, speaker):
        """Prior latents [B, C, T_frames] -> the decoder's input: the flow reversed, padding zeroed."""
        return self.model.flow(latents * frame_mask, frame_mask, speaker, reverse=True) * frame_mask

    def decode(self, latents, speaker):
        """The decoder's input [B, C, T_frames] -> waveform [B, T_frames * hop]."""
        return self.model.decoder(latents, speaker).squeeze(1)

    def render(self, latents, frame_mask, speaker):
        """Prior latents [B, C, T_frames] -> waveform [B, T_frames * hop]: the flow reversed, the decoder."""
        return self.decode(self.flowed(latents, frame_mask, speaker), speaker)


class DurationsToLatents(DurationsToAudio):
    """The audio stage up to the decoder's input (ONNX exports keep it apart, to decode in pieces)."""

    def forward(self, durations, prior_means, prior_log_std, attention_mask, prior_noise, speaker_id=None):
        return self.latents(durations, prior_means, prior_log_std, attention_mask, prior_noise, speaker_id)


class LatentsToAudio(DurationsToAudio):
    """The decoder alone: its input [B, C, T] -> waveform [B, T * hop]."""

    def forward(self, latents, speaker_id=None):
        return self.decode(latents, self.speaker(speaker_id))


class TorchEngine:
    """The two stages in PyTorch, on a loaded `VitsModel`."""

    pieces = True  # decodes a sentence in pieces (synthesize_pieces)

    def __init__(self, model):
        self.model = model.eval()
        self.encoder, self.decoder = TextToDurations(model), DurationsToAudio(model)
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def durations(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        outputs = self.encoder(**self._tensors(inputs))
        return tuple(o.float().cpu().numpy() for o in outputs)

    @torch.inference_mode()
    def audio(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.decoder(**self._tensors(inputs)).float().cpu().numpy()

    @torch.inference_mode()
    def latents(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The audio stage's inputs -> the decoder's input [B, C, T_frames] (for decoding in pieces)."""
        return self.decoder.latents(**self._tensors(inputs)).float().cpu().numpy()

    @torch.inference_mode()
    def decode(self, latents: np.ndarray, speaker_id: np.ndarray | None = None) -> np.ndarray:
        """The decoder's input [B, C, T] -> waveform [B, T * hop]."""
        speaker = None if speaker_id is None else self.decoder.speaker(torch.from_numpy(speaker_id).to(self.device))
        return self.decoder.decode(torch.from_numpy(latents).to(self.device), speaker).float().cpu().numpy()

    def _tensors(self, inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(value).to(self.device) for name, value in inputs.items()}


class OnnxEngine:
    """The stages in ONNX Runtime, from a folder written by `export_onnx`: text to durations, then
    durations to the decoder's input and the decoder apart (an export made before streaming has the
    two in one graph, and decodes a sentence whole)."""

    def __init__(self, folder: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # the process's thread budget (serve.py sets it per worker)

        def session(name: str):
            return onnxruntime.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])

        self.encoder = session(ENCODER_FILE)
        self.pieces = (folder / LATENTS_FILE).is_file() and (folder / VOCODER_FILE).is_file()
        if self.pieces:
            self.to_latents, self.vocoder = session(LATENTS_FILE), session(VOCODER_FILE)
        else:
            self.decoder = session(DECODER_FILE)

    def durations(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(self.encoder.run(None, self._feed(self.encoder, inputs)))

    def audio(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self.pieces:
            return self.decode(self.latents(inputs), inputs.get("speaker_id"))
        return self.decoder.run(None, self._feed(self.decoder, inputs))[0]

    def latents(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.to_latents.run(None, self._feed(self.to_latents, inputs))[0]

    def decode(self, latents: np.ndarray, speaker_id: np.ndarray | None = None) -> np.ndarray:
        inputs = {"latents": np.ascontiguousarray(latents, dtype=np.float32)}
        if speaker_id is not None:
            inputs["speaker_id"] = speaker_id
        return self.vocoder.run(None, self._feed(self.vocoder, inputs))[0]

    @staticmethod
    def _feed(session, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # An input the network does not use (duration noise of a deterministic predictor) is not in the graph.
        return {i.name: inputs[i.name] for i in session.get_inputs()}


def is_onnx_folder(folder: Path) -> bool:
    stages = (folder / DECODER_FILE).is_file() or ((folder / LATENTS_FILE).is_file() and (folder / VOCODER_FILE).is_file())
    return (folder / ENCODER_FILE).is_file() and stages


def _audio_inputs(engine, input_ids: np.ndarray, attention_mask: np.ndarray, rng: np.random.Generator,
                  noise_scale: float, noise_scale_duration: float, speaking_rate: float,
                  speaker_id: int | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The text stage run, and the audio stage's inputs with the prior noise drawn: (inputs, frames per
    row). The noise is drawn from `rng` in a fixed order (durations, then prior), so the same generator
    state gives the same audio on either engine, whole or in pieces."""
    batch, tokens = input_ids.shape
    if tokens < MIN_TOKENS:
        input_ids = np.pad(input_ids, ((0, 0), (0, MIN_TOKENS - tokens)))
        attention_mask = np.pad(attention_mask, ((0, 0), (0, MIN_TOKENS - tokens)))
    speaker = {} if speaker_id is None else {"speaker_id": np.full(batch, speaker_id, dtype=np.int64)}
    duration_noise = rng.standard_normal((batch, 2, input_ids.shape[1])).astype(np.float32) * noise_scale_duration
    durations, means, log_std = engine.durations({
        "input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64),
        "duration_noise": duration_noise, "length_scale": np.array([1.0 / speaking_rate], dtype=np.float32), **speaker})
    frame_counts = np.maximum(durations.sum(1), 1).astype(np.int64)  # [B]
    prior_noise = rng.standard_normal((batch, means.shape[1], int(frame_counts.max()))).astype(np.float32) * noise_scale
    return {"durations": durations, "prior_means": means, "prior_log_std": log_std,
            "attention_mask": attention_mask.astype(np.int64), "prior_noise": prior_noise, **speaker}, frame_counts


def synthesize_batch(engine, config, input_ids: np.ndarray, attention_mask: np.ndarray, rng: np.random.Generator,
                     noise_scale: float, noise_scale_duration: float, speaking_rate: float,
                     speaker_id: int | None = None) -> list[np.ndarray]:
    """Token ids [B, T_text] (int64) -> one float32 waveform per row, trimmed to its length."""
    inputs, frame_counts = _audio_inputs(engine, input_ids, attention_mask, rng, noise_scale, noise_scale_duration,
                                         speaking_rate, speaker_id)
    waveforms = engine.audio(inputs)
    hop = int(np.prod(config.upsample_rates))
    return [waveforms[i, : frame_counts[i] * hop].astype(np.float32) for i in range(len(frame_counts))]


# Decoding in pieces: each piece is decoded with this many frames of the latents on either side,
# which its samples depend on (the decoder's receptive field: measured, a piece then equals the
# whole to float precision; see tests/test_streaming.py); the first piece is small, so that audio
# starts soon, the next 48 frames, each after that twice the one before (up to 384), so that the
# overlaps, decoded twice, cost little.
CONTEXT_FRAMES, FIRST_FRAMES, PIECE_FRAMES, MAX_PIECE_FRAMES = 16, 12, 48, 384
# The flow's receptive field (measured the same way): the first piece's latents come from the flow
# over the sentence's first frames only, so that a long sentence's first audio does not wait for the
# flow over all of it.
FLOW_CONTEXT_FRAMES = 32


def synthesize_pieces(engine, config, input_ids: np.ndarray, attention_mask: np.ndarray, rng: np.random.Generator,
                      noise_scale: float, noise_scale_duration: float, speaking_rate: float,
                      speaker_id: int | None = None, first: int = FIRST_FRAMES, size: int = PIECE_FRAMES,
                      context: int = CONTEXT_FRAMES):
    """One sentence [1, T_text] -> its waveform in pieces, as they are decoded (a generator). The noise
    is drawn as `synthesize_batch` draws it, so the pieces join to its waveform (to float precision).
    An engine that cannot decode in pieces (an ONNX export made before the flow and the decoder were
    exported apart) gives the whole waveform as one piece."""
    if not getattr(engine, "pieces", False):
        yield from synthesize_batch(engine, config, input_ids, attention_mask, rng, noise_scale, noise_scale_duration,
                                    speaking_rate, speaker_id)
        return
    inputs, frame_counts = _audio_inputs(engine, input_ids, attention_mask, rng, noise_scale, noise_scale_duration,
                                         speaking_rate, speaker_id)
    frames, noise, speaker = int(frame_counts[0]), inputs["prior_noise"], inputs.get("speaker_id")
    prefix = min(frames, first + context + FLOW_CONTEXT_FRAMES)
    latents = engine.latents({**inputs, "prior_noise": noise[:, :, :prefix]})  # the first piece's, soon
    hop = int(np.prod(config.upsample_rates))
    start, end, step = 0, min(frames, first), size
    while start < frames:
        if start and latents.shape[2] < frames:  # past the first piece: the flow over the whole sentence
            latents = engine.latents(inputs)
        left, right = max(0, start - context), min(frames, end + context)
        audio = engine.decode(latents[:, :, left:right], speaker)
        yield audio[0, (start - left) * hop:(end - left) * hop].astype(np.float32)
        start, end = end, min(frames, end + step)
        step = min(2 * step, MAX_PIECE_FRAMES)  # longer pieces later: less decoded twice in the overlaps


def export_onnx(model, tokenizer, output: Path, model_card: Path | None = None, quantize: bool = False,
                opset: int = 17) -> Path:
    """Write both stages as ONNX (dynamic batch, text and frame lengths), with the config, the tokenizer
    files and the model card beside them, so that the folder is a model `synthesize.py --model` runs.
    `quantize` makes the vocoder's convolutions int8 (see `quantize_vocoder`).
    The folder appears whole or not at all; an existing folder is replaced only if it is an earlier
    export (anything else there, a PyTorch model say, is never deleted)."""
    if output.exists() and not is_onnx_folder(output):
        raise FileExistsError(f"{output} exists and is not an ONNX export: export to a new folder "
                              f"(an earlier export is replaced, nothing else is)")
    model = model.eval().float().cpu()
    config = model.config
    speakers = config.num_speakers > 1
    batch, tokens, frames = 1, 3 * MIN_TOKENS, 60
    speaker = (torch.zeros(batch, dtype=torch.long),) if speakers else ()
    speaker_axes = {"speaker_id": {0: "batch"}} if speakers else {}
    per_token, per_channel = {0: "batch", 1: "tokens"}, {0: "batch", 2: "tokens"}
    ids = torch.randint(1, config.vocab_size, (batch, tokens))
    mask = torch.ones(batch, tokens, dtype=torch.long)
    durations = torch.full((batch, tokens), frames / tokens).ceil()
    channels = config.flow_size
    with staged_folder(output) as staging:
        _export(TextToDurations(model), (ids, mask, torch.randn(batch, 2, tokens), torch.ones(1), *speaker),
                staging / ENCODER_FILE, ["durations", "prior_means", "prior_log_std"],
                {"input_ids": per_token, "attention_mask": per_token, "duration_noise": per_channel,
                 "length_scale": {}, "durations": per_token, "prior_means": per_channel, "prior_log_std": per_channel,
                 **speaker_axes}, opset)
        per_frame = {0: "batch", 2: "frames"}
        _export(DurationsToLatents(model),
                (durations, torch.randn(batch, channels, tokens), 0.1 * torch.randn(batch, channels, tokens), mask,
                 torch.randn(batch, channels, int(durations.sum())), *speaker),
                staging / LATENTS_FILE, ["latents"],
                {"durations": per_token, "prior_means": per_channel, "prior_log_std": per_channel,
                 "attention_mask": per_token, "prior_noise": per_frame, "latents": per_frame, **speaker_axes}, opset)
        _export(LatentsToAudio(model), (torch.randn(batch, channels, frames), *speaker), staging / VOCODER_FILE,
                ["waveform"], {"latents": per_frame, "waveform": {0: "batch", 1: "samples"}, **speaker_axes}, opset)
        if quantize:
            quantize_vocoder(staging / VOCODER_FILE, model, tokenizer)
        config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if model_card is not None and model_card.is_file():
            shutil.copy2(model_card, staging / "README.md")
    return output


# Sentences whose synthesis calibrates the int8 vocoder: the ranges of its activations on real latents.
CALIBRATION_SENTENCES = [
    "rojbaş ez bi kurdî diaxivim", "ez bîst û pênc salî me û li amedê dijîm",
    "hewa îro pir xweş e em ê herin baxçe", "zarok li baxçe dilîzin û stranan dibêjin",
    "di sala hezar û neh sed û heştê û çaran de ew hat vî gundî",
]


class _Recorder:
    """An engine that keeps the inputs of the audio stage it is asked for."""

    def __init__(self, engine):
        self.engine, self.audio_inputs = engine, []

    def durations(self, inputs):
        return self.engine.durations(inputs)

    def audio(self, inputs):
        self.audio_inputs.append(inputs)
        return self.engine.audio(inputs)


def quantize_vocoder(path: Path, model, tokenizer) -> None:
    """Make the HiFi-GAN convolutions of the vocoder graph in `path` int8 (static, per channel), calibrated on the
    latents this model makes for `CALIBRATION_SENTENCES`. The vocoder is nearly all of the synthesis
    time on a CPU; int8 convolutions run it over twice as fast (BENCHMARKS.md), at a small cost in quality that
    `bench/bench_synthesis.py` measures. The first and the last convolution stay in float."""
    engine = TorchEngine(model)
    recorder = _Recorder(engine)
    rng = np.random.default_rng(0)
    for sentence in CALIBRATION_SENTENCES:
        inputs = tokenizer(sentence, return_tensors="np")
        synthesize_batch(recorder, model.config, inputs["input_ids"], inputs["attention_mask"], rng, NOISE_SCALE,
                         NOISE_SCALE_DURATION, 1.0, 0 if model.config.num_speakers > 1 else None)
    feeds = [{"latents": engine.latents(inputs), **({"speaker_id": inputs["speaker_id"]} if "speaker_id" in inputs else {})}
             for inputs in recorder.audio_inputs]
    quantize_decoder_convolutions(path, feeds)


def quantize_decoder_convolutions(path: Path, feeds: list[dict[str, np.ndarray]], symbolic_shapes: bool = True) -> None:
    """Int8 (static, per channel, QDQ) for the HiFi-GAN convolutions of the graph in `path` but its
    first and last, calibrated by running the graph on `feeds`; the graph is replaced in place.
    `symbolic_shapes` False skips onnxruntime's symbolic shape inference, which cannot follow a
    graph that draws its own noise."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = path.with_name(f"{path.stem}.prepared.onnx")
    quant_pre_process(str(path), str(prepared), skip_symbolic_shape=not symbolic_shapes)  # shapes inferred and the graph folded, as quantization wants
    graph = onnx.load(str(prepared)).graph
    nodes = [n.name for n in graph.node if n.op_type in ("Conv", "ConvTranspose") and n.name.startswith("/decoder/")
             and "/conv_pre/" not in n.name and "/conv_post/" not in n.name]
    remaining = iter(feeds)

    class Feeds(CalibrationDataReader):
        def get_next(self):
            return next(remaining, None)

    quantized = path.with_name(f"{path.stem}.int8.onnx")
    quantize_static(str(prepared), str(quantized), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_quantize=nodes)
    os.replace(quantized, path)
    prepared.unlink()


def _export(module, inputs, path: Path, output_names, dynamic_axes, opset: int) -> None:
    """Trace `module` to ONNX; input names are the forward's argument names."""
    import inspect
    import warnings

    input_names = list(inspect.signature(module.forward).parameters)[: len(inputs)]
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer warnings about Python branches on shapes: the branches taken hold for MIN_TOKENS and more.
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), inputs, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes={k: v for k, v in dynamic_axes.items() if v}, opset_version=opset, dynamo=False)
