#!/usr/bin/env python3
"""Text -> speech with a Kurmanji VITS model (a model folder such as models/kurdish, a
checkpoint's model folder, or a hub id). Numbers and punctuation are made speakable first.

Text comes from --text, --text_file (one utterance a line) or standard input; --output is a
wav file for one utterance, or a folder (0001.wav, 0002.wav, ...) for several. The voice options
also apply to --evaluate; an option that does not apply to the mode asked for is refused.

    python synthesize.py --model models/kurdish --text "Ez 25 salî me." --output hello.wav
    python synthesize.py --model models/kurdish --text_file lines.txt --output spoken/
    echo "Rojbaş!" | python synthesize.py --model training/checkpoints/checkpoint-500/model --output hi.wav
    python synthesize.py --model models/kurdish --export_onnx models/kurdish-onnx   # then --model models/kurdish-onnx
    python synthesize.py --model models/kurdish --export_onnx models/kurdish-sherpa --format sherpa-onnx
    python synthesize.py --evaluate --model facebook/mms-tts-kmr-script_latin --model models/kurdish
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from kurdish_tts.corpus.audio import write_wav
from kurdish_tts.files import not_utf8
from kurdish_tts.options import given_options, refuse
from kurdish_tts.synthesis.exporting import EXPORT_FORMATS, export, stream_pcm
from kurdish_tts.synthesis.voice import Settings, SynthesisError, Voice, normalizer_notice
from kurdish_tts.text.vocabulary import MMS_KURMANJI

JUDGE = Path(__file__).resolve().parent / "data" / "judge"  # the toolkit's own recogniser, for the CER


def finite(text: str) -> float:
    """A number option: NaN and infinity are refused (they pass every range check)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", action="append", help=f"model folder or hub id (default {MMS_KURMANJI}); "
                        "repeat with --evaluate to compare several")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", help="the text to speak")
    source.add_argument("--text_file", type=Path, help="a UTF-8 file, one utterance a line")
    parser.add_argument("--output", type=Path, default=Path("output.wav"),
                        help="wav file, or folder for several lines; - writes raw 16-bit PCM to standard output as it "
                             "is made (| aplay -r 16000 -f S16_LE -c 1)")
    voice = parser.add_argument_group("voice")
    voice.add_argument("--speaking_rate", type=finite, help="above 1 speaks faster (default: the model config's, 1.0 in MMS)")
    voice.add_argument("--noise_scale", type=finite, help="variation of the voice (default: the model config's, 0.667 in MMS)")
    voice.add_argument("--noise_scale_duration", type=finite,
                       help="variation of the rhythm (default: the model config's, 0.8 in MMS)")
    voice.add_argument("--voice", help="the voice of a multi-voice model, by name or id (default: its first; "
                                       "--evaluate speaks each clip of data of several voices with its own)")
    voice.add_argument("--speaker_id", type=int, help="--voice as an id (kept for older commands)")
    voice.add_argument("--seed", type=int, help="same seed, same audio")
    voice.add_argument("--batch_size", type=int, default=1, help="sentences synthesised together (pays on a GPU; "
                       "on a CPU it only adds padding)")
    voice.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                       help="where a PyTorch model runs (auto: a CUDA GPU when there is one); ONNX runs on the CPU")
    parser.add_argument("--normalize_only", action="store_true",
                        help="print the text as it will be spoken, a sentence a line, and exit (no audio; the "
                             "alphabet of --model when it is a local folder, MMS Kurmanji's otherwise)")
    parser.add_argument("--export_onnx", type=Path, metavar="DIR",
                        help="write --model as ONNX to DIR (then run it with --model DIR, in ONNX Runtime)")
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="toolkit",
                        help="with --export_onnx: toolkit (the two-stage graphs synthesize.py and serve.py run), "
                             "sherpa-onnx (model.onnx + tokens.txt for sherpa-onnx's OfflineTts: Android, iOS, Raspberry "
                             "Pi) or piper (voice.onnx + voice.onnx.json for piper and Home Assistant's wyoming-piper)")
    parser.add_argument("--quantize", action="store_true",
                        help="with --export_onnx: int8 vocoder convolutions, about 2.6x faster than plain transformers on a CPU, slightly lower quality")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--evaluate", action="store_true",
                            help="score each model on held-out recordings, spoken with the voice options (seed 0 unless "
                                 "--seed): MCD-DTW, duration, the judge's CER and DNSMOS, the recordings' own CER and "
                                 "DNSMOS beside them")
    evaluation.add_argument("--metadata", type=Path, default=Path("training/metadata_eval.csv"),
                            help="clips to evaluate on (their wavs/ lies beside the file)")
    evaluation.add_argument("--max_clips", type=int, help="evaluate on the first N clips only")
    evaluation.add_argument("--asr_model", type=Path, help="a local speech-recognition model folder, for the CER "
                            f"(--evaluate uses the toolkit's judge, {JUDGE.relative_to(JUDGE.parents[1])}, when not given); "
                            "in plain synthesis: print what it hears in each utterance, its CER against the text and its DNSMOS OVRL, "
                            "then, for several, the mean of each")
    evaluation.add_argument("--report", type=Path, default=Path("evaluation/report.json"),
                            help="JSON report; the picture goes beside it (.png)")
    return parser


def read_utterances(args: argparse.Namespace) -> list[str]:
    if args.text is not None:
        return [args.text]
    if args.text_file is not None:
        if not args.text_file.is_file():
            raise SynthesisError(f"--text_file {args.text_file} not found")
        source, what = args.text_file.read_bytes, f"--text_file {args.text_file}"
    else:
        source, what = sys.stdin.buffer.read, "standard input"
    try:
        lines = source().decode("utf-8-sig").splitlines()  # -sig: a byte-order mark is not text
    except UnicodeDecodeError as error:
        raise SynthesisError(not_utf8(what, error)) from None
    return [line for line in lines if line.strip()] or [""]


# What each mode reads; an option of another mode given with it is refused, not ignored.
SPEECH_OPTIONS = ("text", "text_file", "output")
VOICE_OPTIONS = ("speaking_rate", "noise_scale", "noise_scale_duration", "voice", "speaker_id", "seed", "batch_size", "device")
EVALUATION_OPTIONS = ("metadata", "max_clips", "report")
EXPORT_OPTIONS = ("export_onnx", "format", "quantize")


def resolve_device(parser: argparse.ArgumentParser, device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU here; use --device cpu or auto")
    return device


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.speaking_rate is not None and args.speaking_rate <= 0:
        parser.error("--speaking_rate must be above 0")
    for name, value, least, hint in (("--batch_size", args.batch_size, 1, ""), ("--seed", args.seed, 0, ""),
                                     ("--max_clips", args.max_clips, 1, " (leave it out to evaluate on every clip)")):
        if value is not None and value < least:
            parser.error(f"{name} must be {least} or more, not {value}{hint}")
    models = args.model or [MMS_KURMANJI]
    device = resolve_device(parser, args.device)
    given = given_options(build_parser, argv, args)
    if args.normalize_only:
        refuse(parser, given, ("output",) + VOICE_OPTIONS + EVALUATION_OPTIONS + EXPORT_OPTIONS + ("evaluate", "asr_model"),
               "--normalize_only", "it only prints the text as it will be spoken")
        if len(models) > 1:
            parser.error("--normalize_only takes one --model (its alphabet)")
        try:
            return print_normalized(models[0], read_utterances(args))
        except SynthesisError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    if args.evaluate:
        refuse(parser, given, SPEECH_OPTIONS, "--evaluate", "evaluation speaks the texts of --metadata and writes --report")
        refuse(parser, given, EXPORT_OPTIONS, "--evaluate", "export first, then evaluate the exported folder (--model DIR)")
    elif args.export_onnx:
        refuse(parser, given, SPEECH_OPTIONS + VOICE_OPTIONS + EVALUATION_OPTIONS + ("asr_model",), "--export_onnx", "export only "
               "writes the model; give the text and the voice settings when you run it (--model DIR)")
    else:
        refuse(parser, given, EVALUATION_OPTIONS, "plain synthesis", "evaluation options apply only with --evaluate")
    if (args.quantize or "format" in given) and not args.export_onnx:
        parser.error("--quantize and --format go with --export_onnx")
    if len(models) > 1 and not args.evaluate:
        parser.error("several --model only with --evaluate")
    if args.voice is not None and args.speaker_id is not None:
        parser.error("--voice and --speaker_id both pick the voice: give one")
    settings = Settings(args.speaking_rate, args.noise_scale, args.noise_scale_duration, args.speaker_id, args.seed,
                        args.batch_size, args.voice)
    if args.evaluate:
        return evaluate_models(args, models, settings, device)
    if args.export_onnx:
        from kurdish_tts.scoring.measures import mcd_dtw

        return export(models[0], args.export_onnx, args.quantize, args.format, distance=mcd_dtw)
    try:
        utterances = read_utterances(args)
        voice = Voice(models[0], device=device)
        if notice := normalizer_notice(models[0]):
            print(f"notice: {notice}", file=sys.stderr)
        recognizer = load_recognizer(args.asr_model) if args.asr_model else None
        voice.speaker(settings)
        for text in utterances:
            voice.sentences(text)  # every utterance checked before any audio is written
        if str(args.output) == "-":
            if recognizer is not None or args.batch_size > 1:
                raise SynthesisError("--output - streams one sentence at a time and writes no file: leave out "
                                     "--asr_model and --batch_size, or give --output a file or folder")
            return stream_pcm(voice, utterances, settings)
        several = len(utterances) > 1 or args.output.suffix.lower() != ".wav"
        if several:
            args.output.mkdir(parents=True, exist_ok=True)
        started, seconds, heard = time.perf_counter(), 0.0, []
        for index, text in enumerate(utterances, start=1):
            audio = voice.speak(text, settings)
            seconds += len(audio) / voice.sampling_rate
            target = args.output / f"{index:04d}.wav" if several else args.output
            target.parent.mkdir(parents=True, exist_ok=True)
            write_wav(target, audio, voice.sampling_rate)  # whole or not at all
            if recognizer is not None:
                heard.append(report_heard(recognizer, " ".join(voice.sentences(text)), audio, voice.sampling_rate, target))
        elapsed = time.perf_counter() - started
    except (SynthesisError, OSError) as e:  # OSError: a folder that cannot be written, a full disk
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(utterances)} file{'s' if several else ''} to {args.output}: {seconds:.1f} s of audio in "
          f"{elapsed:.1f} s (real-time factor {elapsed / max(seconds, 1e-9):.3f})")
    if len(heard) > 1:
        report_mean(heard)
    return 0


def print_normalized(model: str, utterances: list[str]) -> int:
    """Each utterance's sentences as they will be spoken, one a line (an empty line between
    utterances); what is removed, on standard error."""
    from kurdish_tts.text.normalizer import VERSION, sentences
    from kurdish_tts.text.vocabulary import builtin_vocabulary, load_vocabulary

    folder = Path(model).expanduser()
    try:
        vocabulary = load_vocabulary(folder) if folder.is_dir() else builtin_vocabulary()
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    removed: Counter = Counter()
    for index, text in enumerate(utterances):
        pieces = sentences(text, vocabulary.characters)
        removed.update(pieces[0].removed)
        print(("\n" if index else "") + "\n".join(piece.text for piece in pieces if piece.text))
    if removed:
        shown = ", ".join(f"{c!r} x{n}" for c, n in removed.most_common(10))
        print(f"removed (the model cannot say them): {shown}", file=sys.stderr)
    print(f"text normaliser version {VERSION}, alphabet of {vocabulary.source}", file=sys.stderr)
    return 0


def load_recognizer(path: Path):
    from kurdish_tts.scoring.measures import EvaluationError, Recognizer

    try:
        return Recognizer(path)
    except EvaluationError as e:
        raise SynthesisError(str(e)) from e


def report_heard(recognizer, text: str, audio: np.ndarray, rate: int, target: Path) -> tuple[float, float | None]:
    """Print what the recogniser hears in `audio`, its character error rate against `text`, and how
    natural the audio sounds (DNSMOS OVRL: natural speech 3.0-3.3, espeak-ng 2.3-2.7, silence 1.8-2.2,
    noise 1.1), two figures to read together; return both (OVRL None where DNSMOS cannot score)."""
    from kurdish_tts.scoring.measures import character_error_rate, naturalness

    heard = recognizer(audio, rate)
    cer, ovrl = character_error_rate(text, heard), naturalness(audio, rate).get("dnsmos_ovrl")
    natural = f", DNSMOS OVRL {ovrl:.2f}" if ovrl is not None else ""
    print(f"{target}: the recogniser heard {heard!r} (CER {cer:.0%}{natural} against {text!r})")
    return cer, ovrl


def report_mean(heard: list[tuple[float, float | None]]) -> None:
    """One line for several utterances: the mean of their CERs and of their DNSMOS OVRLs (one draw of
    one sentence varies by 10-20 points of CER; the mean of many is what tells two voices apart)."""
    ovrls = [ovrl for _, ovrl in heard if ovrl is not None]
    natural = f", DNSMOS OVRL {np.mean(ovrls):.2f}" if ovrls else ""
    print(f"over the {len(heard)} utterances, the mean: CER {np.mean([cer for cer, _ in heard]):.1%}{natural}")


def evaluate_models(args: argparse.Namespace, models: list[str], settings: Settings, device: str = "cpu") -> int:
    """Score every model on the clips of --metadata, spoken with `settings` (seed 0 unless one is given):
    a table, a JSON report and a picture."""
    from kurdish_tts.corpus.metadata import WAVS_DIR, MetadataError, read_metadata
    from kurdish_tts.files import write_bytes_atomic, write_text_atomic
    from kurdish_tts.scoring import measures

    try:
        if args.report.is_dir():
            raise measures.EvaluationError(f"--report {args.report} is a folder: pass a file name such as "
                                             f"{args.report / 'report.json'}")
        picture = args.report.with_suffix(".png")
        if picture == args.report:
            raise measures.EvaluationError(f"--report {args.report} names the picture's file: the JSON report needs "
                                             f"its own name, such as {args.report.with_suffix('.json')}")
        if picture.is_dir():
            raise measures.EvaluationError(f"--report {args.report}: the picture goes to {picture}, which is a folder: "
                                             "pass another file name")
        clips = read_metadata(args.metadata)[: args.max_clips]
        voices = {name: Voice(name, device=device) for name in models}
        measures.check_scorable(args.metadata, clips, voices, settings)
        asr_model = args.asr_model or (JUDGE if (JUDGE / "config.json").is_file() else None)
        recognizer = measures.Recognizer(asr_model) if asr_model else None
    except (SynthesisError, MetadataError, measures.EvaluationError, OSError) as e:  # OSError: a model's damaged files
        print(f"error: {e}", file=sys.stderr)
        return 1
    data_dir = args.metadata.parent
    recordings = measures.score_recordings(data_dir, clips, recognizer)  # the reference row
    scores, syntheses = [], {}  # syntheses: each model's first clip, as scored, for the picture
    for name, voice in voices.items():
        scores += measures.score_model(voice, name, data_dir, clips, recognizer=recognizer, settings=settings,
                                       syntheses=syntheses, with_dnsmos=True)
    report = measures.report_dict(scores, recordings)
    for voice_name, summary in report.get("voices", {}).items():  # each voice on its own clips, then all
        print(f"voice {voice_name}:")
        measures.print_table(summary, legend=False)
    measures.print_table(report["summary"], report[measures.RECORDINGS]["summary"])
    recording, rate = measures.read_recording(data_dir / WAVS_DIR / clips[0].file)
    png = measures.plot_report(recordings + scores, recording, syntheses, rate)
    try:  # each file whole or not at all
        write_text_atomic(args.report, json.dumps(report, ensure_ascii=False, indent=2))
        write_bytes_atomic(picture, png)
    except OSError as e:
        print(f"error: cannot write the report: {e}", file=sys.stderr)
        return 1
    print(f"report: {args.report} and {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
