#!/usr/bin/env python3
"""Train the judge (data/judge/): a small Kurmanji speech recogniser that hears whether a voice speaks.

A distance between spectra cannot tell a voice that speaks from a buzz; a recogniser's
character error rate (CER) can. The judge is a transformers CTC model (`Wav2Vec2BertForCTC`:
log-mel filter banks -> a 4-layer conformer -> characters), small enough to train on a CPU,
that `pipeline("automatic-speech-recognition")` and `synthesize.py --evaluate --asr_model`
load. It learns the `judge` group of data/corpus/sentences.tsv, each sentence spoken three
times by espeak-ng with a random voice variant, speed and pitch, half of them with noise
added, and `--natural_takes` times by a natural speaker (kurdish_tts/samples/natural.py) of the
`judge` role in data/corpus/speakers.json, half of those as Common Voice records (room, microphone
band, noise: kurdish_tts/samples/conditions.py), and `--drawn_takes` times by a speaker drawn at
random from those speakers' styles (mix, speed, pitch, formant: natural.drawn_speaker), half of
those as Common Voice records too; it never hears the `heldout`, `judge_test` or
`finetune` groups, the voice ku+f4, nor the natural speakers of the `unheard` and `target` roles.

At the end it is scored on held-out speech (the judge_test group in espeak-ng voices it knows and
in ku+f4; a natural speaker it learnt; the unheard natural speakers clean and as Common Voice
records) and on references that do not speak (white noise, a harmonic buzz shaped like speech),
and the figures are written to scores.json beside the model.

    python data/train_judge.py --init data/judge-espeak --steps 1000   # from the espeak-ng judge: about 1.5 h on 2 cores
    python data/train_judge.py --natural_takes 0 --steps 1500 --output data/judge-espeak   # the espeak-ng judge
    python data/train_judge.py --steps 200 --output /tmp/judge   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

HERE = Path(__file__).resolve().parent

from kurdish_tts.corpus.audio import write_wav
from kurdish_tts.files import replace_folder
from kurdish_tts.samples.conditions import Conditions, record
from kurdish_tts.samples.espeak import SPEED, espeak_version, speak_clean
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.natural import drawn_speaker, speak, speakers_for
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import character_error_rate
from kurdish_tts.scoring.references import buzz_like, noise_like
from kurdish_tts.text.vocabulary import MMS_KURMANJI_VOCAB

# espeak-ng voices the judge learns; ku+f4 is kept out to measure a voice it never heard.
VOICES = ["ku", "ku+f1", "ku+f2", "ku+f3", "ku+f5", "ku+m1", "ku+m2", "ku+m3", "ku+m4", "ku+m5", "ku+m6", "ku+m7"]
UNHEARD_VOICE = "ku+f4"
TAKES = 3  # renderings of each training sentence
SAMPLE_RATE = 16_000
# The judge's characters: the MMS Kurmanji letters, the space as CTC's word delimiter "|", and the blank.
CHARACTERS = sorted(c for c in MMS_KURMANJI_VOCAB if len(c) == 1 and c not in "_ ")


def build_processor(folder: Path):
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertProcessor, Wav2Vec2CTCTokenizer

    vocab = {"<pad>": 0, "|": 1, **{c: i + 2 for i, c in enumerate(CHARACTERS)}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="<pad>", pad_token="<pad>",
                                     word_delimiter_token="|")
    return Wav2Vec2BertProcessor(feature_extractor=SeamlessM4TFeatureExtractor(sampling_rate=SAMPLE_RATE),
                                 tokenizer=tokenizer)


def build_model(vocab_size: int):
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertForCTC

    config = Wav2Vec2BertConfig(
        vocab_size=vocab_size, pad_token_id=0, hidden_size=144, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=576, feature_projection_input_dim=160, conv_depthwise_kernel_size=15, add_adapter=False,
        layerdrop=0.0, ctc_loss_reduction="mean", ctc_zero_infinity=True, mask_time_prob=0.05, mask_time_length=5,
        mask_feature_prob=0.05, mask_feature_length=10)
    return Wav2Vec2BertForCTC(config)


def render(cache: Path, seed: int) -> list[tuple[Path, str]]:
    """Speak the judge group TAKES times each (random voice, speed, pitch; half with noise) into `cache`."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(seed)
    jobs = []
    for clip_id, sentence in read_sentences("judge"):
        for take in range(TAKES):
            jobs.append((cache / f"{clip_id}-{take}.wav", sentence, rng.choice(VOICES), rng.randint(120, 190),
                         rng.randint(25, 75), rng.random() < 0.5, rng.uniform(10, 40), rng.randrange(2**31)))

    def one(job):
        path, sentence, voice, speed, pitch, noisy, snr_db, noise_seed = job
        if not path.is_file():
            audio = speak_clean(sentence, voice, speed, pitch)
            if noisy:
                noise = np.random.default_rng(noise_seed).standard_normal(len(audio)).astype(np.float32)
                audio = audio + noise * np.sqrt(np.mean(audio**2) / 10 ** (snr_db / 10))
                audio = (audio / max(1.0, float(np.abs(audio).max()))).astype(np.float32)
            write_wav(path, audio, SAMPLE_RATE)
        return path, spoken_text(sentence)

    cache.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, jobs))


def render_natural(cache: Path, seed: int, takes: int) -> list[tuple[Path, str]]:
    """Speak the judge group `takes` times each with a random natural speaker of the judge role,
    half of the clips as Common Voice records, into `cache` (clips already there are kept)."""
    from concurrent.futures import ProcessPoolExecutor

    rng, voices = random.Random(seed + 1), speakers_for("judge")
    jobs = [(cache / f"{clip_id}-natural-{take}.wav", sentence, rng.choice(voices), rng.random() < 0.5,
             rng.randrange(2**31)) for clip_id, sentence in read_sentences("judge") for take in range(takes)]
    cache.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:  # processes: WORLD's resynthesis holds the interpreter's lock
        return list(pool.map(speak_natural_clip, jobs, chunksize=8))


def judge_styles() -> tuple[str, ...]:
    """The Kokoro styles the judge's natural speakers are made of (never one kept for the unheard)."""
    return tuple(sorted({style for voice in speakers_for("judge") for style in voice.styles}))


def render_drawn(cache: Path, seed: int, takes: int) -> list[tuple[Path, str]]:
    """Speak the judge group `takes` times each with a speaker drawn at random from the judge's
    styles (natural.drawn_speaker: mixes, speeds, pitches and formants no named speaker has), half
    of the clips as Common Voice records, into `cache` (clips already there are kept)."""
    from concurrent.futures import ProcessPoolExecutor

    rng, styles = np.random.default_rng(seed + 2), judge_styles()
    jobs = [(cache / f"{clip_id}-drawn-{take}.wav", sentence, drawn_speaker(rng, styles), rng.random() < 0.5,
             int(rng.integers(2**31))) for clip_id, sentence in read_sentences("judge") for take in range(takes)]
    cache.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(speak_natural_clip, jobs, chunksize=8))


def speak_natural_clip(job) -> tuple[Path, str]:
    path, sentence, voice, recorded, clip_seed = job
    if not path.is_file():
        audio = speak(sentence, voice, SAMPLE_RATE)
        if recorded:
            audio, _ = record(audio, SAMPLE_RATE, np.random.default_rng(clip_seed), Conditions())
        write_wav(path, audio, SAMPLE_RATE)
    return path, spoken_text(sentence)


def featurize(processor, audios: list[np.ndarray], batch: int = 64) -> list[np.ndarray]:
    """Filter-bank features [frames, 160] of each clip (no padding kept)."""
    features = []
    for start in range(0, len(audios), batch):
        chunk = audios[start:start + batch]
        out = processor.feature_extractor(chunk, sampling_rate=SAMPLE_RATE, return_tensors="np", padding=True)
        for i, frames in enumerate(out["attention_mask"].sum(1)):
            features.append(out["input_features"][i, :frames])
    return features


def batches_of(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.random())
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def pad(features: list[np.ndarray], labels: list[list[int]]) -> dict:
    frames = max(len(f) for f in features)
    x = np.zeros((len(features), frames, features[0].shape[1]), np.float32)
    mask = np.zeros((len(features), frames), np.int64)
    for i, f in enumerate(features):
        x[i, :len(f)], mask[i, :len(f)] = f, 1
    width = max(len(lab) for lab in labels)
    y = np.full((len(labels), width), -100, np.int64)  # -100: not a label, ignored by the CTC loss
    for i, lab in enumerate(labels):
        y[i, :len(lab)] = lab
    return {"input_features": torch.from_numpy(x), "attention_mask": torch.from_numpy(mask), "labels": torch.from_numpy(y)}


def transcribe(model, processor, audios: list[np.ndarray]) -> list[str]:
    """Greedy CTC transcripts, in batches, as the pipeline would give them."""
    model.eval()
    texts = []
    with torch.no_grad():
        for start in range(0, len(audios), 32):
            inputs = processor.feature_extractor(audios[start:start + 32], sampling_rate=SAMPLE_RATE,
                                                 return_tensors="pt", padding=True)
            ids = model(**inputs).logits.argmax(-1)
            texts += processor.tokenizer.batch_decode(ids)
    model.train()
    return [" ".join(t.split()) for t in texts]


def mean_cer(references: list[str], hypotheses: list[str]) -> float:
    return float(np.mean([character_error_rate(r, h) for r, h in zip(references, hypotheses)]))


def score(model, processor, natural: bool = True) -> dict:
    """CER on held-out espeak-ng and natural speech and on references that do not speak."""
    test = read_sentences("judge_test")
    texts = [spoken_text(s) for _, s in test]
    results = {}
    for name, voice in (("judge_test, voice ku (learnt)", "ku"), ("judge_test, voice ku+f3 (learnt)", "ku+f3"),
                        (f"judge_test, voice {UNHEARD_VOICE} (never heard)", UNHEARD_VOICE)):
        audios = [speak_clean(s, voice) for _, s in test]
        results[name] = mean_cer(texts, transcribe(model, processor, audios))
    if natural:
        from concurrent.futures import ThreadPoolExecutor

        learnt = speakers_for("judge")[0]
        for voice, heard in ((learnt, "learnt"), *((v, "never heard") for v in speakers_for("unheard"))):
            with ThreadPoolExecutor(2) as pool:
                clean = list(pool.map(speak, [s for _, s in test], [voice] * len(test), [SAMPLE_RATE] * len(test)))
            results[f"judge_test, natural {voice.name} ({heard})"] = mean_cer(texts, transcribe(model, processor, clean))
            if heard == "never heard":
                rng = np.random.default_rng(1)
                recorded = [record(a, SAMPLE_RATE, rng)[0] for a in clean]
                results[f"judge_test, natural {voice.name} as Common Voice records (never heard)"] = mean_cer(
                    texts, transcribe(model, processor, recorded))
    heard = [speak_clean(s, "ku") for _, s in test[:20]]
    rng = np.random.default_rng(0)
    results["white noise"] = mean_cer(texts[:20], transcribe(model, processor, [noise_like(a, rng) for a in heard]))
    results["harmonic buzz with speech's loudness"] = mean_cer(
        texts[:20], transcribe(model, processor, [buzz_like(a, SAMPLE_RATE) for a in heard]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=HERE / "judge")
    parser.add_argument("--cache", type=Path, default=Path("runs/judge/clips"), help="rendered training clips (reused)")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--natural_takes", type=int, default=2, help="renderings of each sentence by natural speakers")
    parser.add_argument("--drawn_takes", type=int, default=2,
                        help="renderings of each sentence by speakers drawn at random from the judge's styles")
    parser.add_argument("--init", type=Path, help="start from this trained judge instead of random weights")
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/judge/checkpoint.pt"),
                        help="saved every 250 steps; a run with the same settings resumes from it")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    started = time.time()
    scratch = Path(tempfile.mkdtemp(prefix=".judge.", dir=args.output.parent))
    processor = build_processor(scratch)
    clips = (render(args.cache, args.seed) + render_natural(args.cache, args.seed, args.natural_takes)
             + render_drawn(args.cache, args.seed, args.drawn_takes if args.natural_takes else 0))
    print(f"rendered {len(clips)} clips in {time.time() - started:.0f} s", flush=True)
    audios = [sf.read(str(path), dtype="float32")[0] for path, _ in clips]
    features = featurize(processor, audios)
    labels = [processor.tokenizer(text).input_ids for _, text in clips]
    del audios
    print(f"features of {len(features)} clips ({sum(map(len, features)) * 0.02 / 3600:.1f} h) "
          f"after {time.time() - started:.0f} s", flush=True)

    if args.init:
        from transformers import Wav2Vec2BertForCTC

        model = Wav2Vec2BertForCTC.from_pretrained(args.init)
    else:
        model = build_model(len(processor.tokenizer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.98), weight_decay=0.01)
    warmup = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then cosine decay to zero
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    lengths = [len(f) for f in features]
    step, losses = 0, []
    settings = {k: str(v) for k, v in vars(args).items() if k not in ("output", "checkpoint")}
    if args.checkpoint.is_file():
        saved = torch.load(args.checkpoint, weights_only=True)
        if saved["settings"] == settings:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            step, losses = saved["step"], saved["losses"]
            rng.seed(args.seed + step)
            print(f"resumed from {args.checkpoint} at step {step}", flush=True)
    model.train()
    while step < args.steps:
        for group in batches_of(lengths, args.batch_size, rng):
            batch = pad([features[i] for i in group], [labels[i] for i in group])
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{args.steps}: CTC loss {np.mean(losses[-100:]):.3f} "
                      f"({(time.time() - started) / 60:.1f} min)", flush=True)
            if step % 250 == 0:
                args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
                state = {"settings": settings, "step": step, "losses": losses, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict()}
                torch.save(state, args.checkpoint.with_suffix(".tmp"))
                args.checkpoint.with_suffix(".tmp").replace(args.checkpoint)
            if step >= args.steps:
                break

    scores = score(model, processor, natural=args.natural_takes > 0)
    for name, value in scores.items():
        print(f"CER {value:6.1%}  {name}")
    model.save_pretrained(scratch)
    processor.save_pretrained(scratch)
    record = {"cer": scores, "steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "training_clips": len(clips), "training_hours": round(sum(lengths) * 0.02 / 3600, 2),
              "voices": VOICES, "unheard_voice": UNHEARD_VOICE, "espeak_ng": espeak_version(), "speed": SPEED,
              "natural_takes": args.natural_takes, "drawn_takes": args.drawn_takes,
              "drawn_from_styles": list(judge_styles()), "natural_speakers": [v.name for v in speakers_for("judge")],
              "unheard_natural_speakers": [v.name for v in speakers_for("unheard") + speakers_for("target")],
              "initialised_from": str(args.init) if args.init else None,
              "minutes": round((time.time() - started) / 60, 1),
              "command": "python data/train_judge.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    (scratch / "scores.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (scratch / "README.md").write_text(MODEL_CARD.format(
        **record, learnt=scores["judge_test, voice ku (learnt)"], unheard=scores[f"judge_test, voice {UNHEARD_VOICE} (never heard)"],
        noise=scores["white noise"], buzz=scores["harmonic buzz with speech's loudness"]),
                                       encoding="utf-8")
    replace_folder(scratch, args.output)
    print(f"judge saved to {args.output} ({(time.time() - started) / 60:.1f} min)")
    return 0


MODEL_CARD = """\
# The judge: a small Kurmanji speech recogniser that hears whether a voice speaks

A `Wav2Vec2BertForCTC` model (log-mel filter banks, a 4-layer conformer of width 144, about
2 M parameters, greedy CTC over the Kurmanji letters) trained by `{command}` on {training_hours} h
of speech: {training_clips} clips of the `judge` sentences of `data/corpus/sentences.tsv`, spoken by
espeak-ng {espeak_ng} in the voices {voices} (random speeds and pitches, half with noise) and, with
{natural_takes} renderings a sentence, by the natural speakers {natural_speakers} of
`data/corpus/speakers.json` (Kokoro-82M; half as Common Voice records: room, microphone band, noise)
and, with {drawn_takes} more, by speakers drawn at random from their styles {drawn_from_styles}
(mix, speed, WORLD pitch and formant).
It starts from {initialised_from} (none: random weights). It never hears the natural speakers
{unheard_natural_speakers}.

It exists to tell a voice that speaks from one that does not, as the character error rate of
what it hears. Compare a figure with the references in `scores.json`, never alone: held-out
espeak-ng speech scores {learnt:.1%} in a voice it learnt and {unheard:.1%} in one it never heard;
the speakers it never heard are in `scores.json`; white noise scores {noise:.0%}, a harmonic buzz
{buzz:.0%} (a transcript of nothing, or of a few stray letters, against the sentence).

Load it with `pipeline("automatic-speech-recognition", model="data/judge")`, or score a
voice with `python synthesize.py --evaluate --model MODEL --asr_model data/judge`.
"""

if __name__ == "__main__":
    sys.exit(main())
