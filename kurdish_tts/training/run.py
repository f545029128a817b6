"""A training run: what the loop works with, and how it is built from the flags and the data.

`build_run` checks the data before any weights load, then loads the generator (a local or hub
model, or random weights from an --init_config), a discriminator (loaded, or fresh and sized to
the generator), the optimisers and their schedules.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from kurdish_tts import hub
from kurdish_tts.corpus.dataset import LengthBucketSampler, TtsDataset
from kurdish_tts.corpus.metadata import EVAL_FILE, Clip, check_clips, check_same_form, too_short, voices_of
from kurdish_tts.synthesis.voice import voice_folder_problem
from kurdish_tts.text.vocabulary import Vocabulary, build_tokenizer, builtin_vocabulary, mms_vocabulary
from kurdish_tts.training import prior
from kurdish_tts.training.arguments import FREEZABLE, learning_rates
from kurdish_tts.training.errors import TrainingError
from kurdish_tts.training.folders import discriminator_folder, output_folder_problem
from kurdish_tts.training.settings import data_fingerprint, run_settings
from kurdish_tts.training.state import Progress, Run, start_ema, trained_speaker
from kurdish_tts.vits.discriminator import CONFIG_FILE as DISCRIMINATOR_CONFIG_FILE
from kurdish_tts.vits.discriminator import DiscriminatorConfig, VitsDiscriminator, load_discriminator
from kurdish_tts.vits.features import FeatureConfig
from kurdish_tts.vits.objective import LossWeights
from kurdish_tts.vits.voices import VoiceError, conditioning_layers, voice_id, voice_names, with_voices
from kurdish_tts.vits.weights import add_decoder_weight_norm, initialize_like_vits, train_every_token


def read_init_config(path: Path) -> tuple[dict, Vocabulary, DiscriminatorConfig | None]:
    """An --init_config file: (its VitsConfig values, the vocabulary its "vocabulary" key names, the
    widths of its optional "discriminator" section). "vocabulary" is "builtin" (the default: the
    toolkit's own ids with a blank of its own) or "mms" (MMS Kurmanji's ids, n at id 0)."""
    if not path.is_file():
        raise TrainingError(f"--init_config {path} not found")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # not JSON, not UTF-8
        raise TrainingError(f"--init_config {path} is not valid JSON ({e})") from e
    if not isinstance(values, dict):
        raise TrainingError(f"--init_config {path} holds a {type(values).__name__}, not an object of config values")
    discriminator = values.pop("discriminator", None)
    vocabularies = {"builtin": builtin_vocabulary, "mms": mms_vocabulary}
    choice = values.pop("vocabulary", "builtin")
    if choice not in vocabularies:
        raise TrainingError(f"--init_config {path}: vocabulary {choice!r} is unknown: use "
                            f"\"builtin\" (its own blank) or \"mms\" (MMS Kurmanji's ids)")
    try:
        widths = DiscriminatorConfig.from_dict(discriminator) if discriminator else None
    except (ValueError, TypeError) as e:
        raise TrainingError(f"--init_config {path}: its \"discriminator\" section: {e}") from e
    return values, vocabularies[choice](), widths


def load_generator_source(args) -> tuple[object, Vocabulary, DiscriminatorConfig | None]:
    """(VitsConfig, vocabulary, discriminator config from --init_config) without loading any weights."""
    from transformers import VitsConfig

    if args.init_config:
        values, vocabulary, widths = read_init_config(args.init_config)
        config = VitsConfig(**values)
        if config.vocab_size < len(vocabulary.token_to_id):
            raise TrainingError(f"{args.init_config}: vocab_size {config.vocab_size} is below the "
                                f"{len(vocabulary.token_to_id)} tokens of its vocabulary")
        return config, vocabulary, widths
    source = str(args.model_name_or_path)
    try:
        hub.require(source)
    except hub.HubUnreachable as e:
        raise TrainingError(f"{e} (for example --model_name_or_path models/kurdish, or --init_config configs/tiny.json)") from e
    problem = voice_folder_problem(source)
    if problem:
        raise TrainingError(f"--model_name_or_path {problem}: pass a folder saved by train_vits.py, or a hub id")
    config = VitsConfig.from_pretrained(source)
    from transformers import VitsTokenizer

    tokenizer = VitsTokenizer.from_pretrained(source)
    return config, Vocabulary(dict(tokenizer.get_vocab()), source), None


def build_run(args, train_clips: list[Clip], eval_clips: list[Clip], weights: list[float] | None) -> Run:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import set_seed
    from transformers import VitsModel, VitsTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()  # the training bar is the one to watch
    if problem := output_folder_problem(args.output_dir):  # replaced whole at the end: never a folder of other files
        raise TrainingError(f"--output_dir: {problem}")
    config, vocabulary, discriminator_config = load_generator_source(args)
    # Check the data before any weights are loaded: a bad clip should cost seconds, not minutes.
    check_clips(args.data_dir, train_clips, config.sampling_rate, vocabulary.characters)
    if eval_clips:
        check_clips(args.data_dir, eval_clips, config.sampling_rate, vocabulary.characters, metadata_name=EVAL_FILE)

    check_same_form(train_clips, eval_clips, args.data_dir)
    voices = voices_of(train_clips)  # data that names each clip's voice: [] for one-voice data
    choose_voice(args, config, voices)
    if voices and args.init_config:  # random weights: a multi-voice model from the start
        if len(voices) < 2:
            raise TrainingError(f"the data names one voice ({voices[0]}): a model of several voices needs two or more; "
                                "drop the voice column to train one voice")
        config.num_speakers, config.voices = len(voices), voices
        config.speaker_embedding_size = args.speaker_embedding_size or config.hidden_size
    tokenizer = build_tokenizer(vocabulary) if args.init_config else VitsTokenizer.from_pretrained(str(args.model_name_or_path))
    features = FeatureConfig.from_model_config(config)
    # Check the alignment with a dataset whose voice ids are not known yet (they come with the model).
    for clips in filter(None, (train_clips, eval_clips)):
        check_alignable(TtsDataset(args.data_dir, clips, tokenizer, config.sampling_rate, features.hop_length),
                        features.hop_length)

    # One process may train several times (tests, a feedback round after a first run): start from a clean state.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    accelerator = Accelerator(mixed_precision=args.mixed_precision,
                              gradient_accumulation_steps=args.gradient_accumulation_steps)
    set_seed(args.seed)
    if set(args.freeze) == set(FREEZABLE):
        raise TrainingError("--freeze names every part of the generator: leave at least one part to train")
    if args.init_config:
        model = VitsModel(config)
        initialize_like_vits(model)
    else:
        model = VitsModel.from_pretrained(str(args.model_name_or_path))
        if voices:
            try:
                model, added = with_voices(model, voices, args.speaker_embedding_size)
            except VoiceError as e:
                raise TrainingError(str(e)) from e
            if added and accelerator.is_main_process:
                print(f"voices added to the model: {', '.join(added)} (each speaks as the model did until it trains)")
    ids = {name: i for i, name in enumerate(voice_names(model.config))}

    def dataset_of(clips):  # clips of named voices learn as their voice; a multi-speaker model learns the rest as --voice
        speaker = trained_speaker(args, model.config)
        speakers = [ids[clip.voice] for clip in clips] if voices else None if speaker is None else [speaker] * len(clips)
        return TtsDataset(args.data_dir, clips, tokenizer, config.sampling_rate, features.hop_length, speakers)

    dataset = dataset_of(train_clips)
    eval_dataset = dataset_of(eval_clips) if eval_clips else None
    if voices and args.balance_voices:
        weights = balanced(train_clips, weights)
    if "decoder" not in args.freeze:  # before the optimiser and any checkpoint: their parameters are weight-normed
        add_decoder_weight_norm(model)
    train_every_token(model)
    for name in args.freeze:
        getattr(model, name).requires_grad_(False)
    model.to(accelerator.device)

    def fit() -> float:  # every process measures; their mean decides, so that all decide alike
        value = torch.tensor(prior.prior_fit(model, dataset, features, accelerator.device), device=accelerator.device)
        return float(accelerator.reduce(value, reduction="mean"))

    kept, why = prior.decide(args, voices, fit)
    if kept:
        prior.keep_prior(model, args.freeze)
    decay = prior.ema_decay(args, kept)
    model.text_encoder.encoder.layerdrop = args.layerdrop  # the module's copy: the saved config keeps its value
    if args.discriminator:
        try:
            discriminator = load_discriminator(args.discriminator, discriminator_config)
        except (ValueError, FileNotFoundError) as e:  # not found, or not this layout: one line
            raise TrainingError(f"--discriminator: {e}") from e
        origin = f"loaded from {args.discriminator}"
    else:
        fresh, origin = fresh_discriminator_config(args, config, discriminator_config)
        discriminator = VitsDiscriminator(fresh)
    sampler = LengthBucketSampler(dataset.samples, args.batch_size, seed=args.seed, weights=weights)

    betas, eps = (0.8, 0.99), 1e-9
    optimizer_g = torch.optim.AdamW(generator_groups(model, args, kept), args.learning_rate, betas=betas, eps=eps)
    optimizer_d = torch.optim.AdamW(discriminator.parameters(), learning_rates(args, kept)["discriminator"],
                                    betas=betas, eps=eps)
    scheduler_g = torch.optim.lr_scheduler.ExponentialLR(optimizer_g, gamma=args.lr_decay)
    scheduler_d = torch.optim.lr_scheduler.ExponentialLR(optimizer_d, gamma=args.lr_decay)
    # The networks are not wrapped for DistributedDataParallel: the training forward calls VitsModel's parts,
    # not its forward (which only synthesises), so `apply_updates` averages the gradients itself.
    model, discriminator = model.to(accelerator.device), discriminator.to(accelerator.device)
    optimizer_g, optimizer_d = accelerator.prepare(optimizer_g, optimizer_d)
    progress = Progress()  # checkpoints keep it, the weights and the schedules themselves (checkpoints.py)
    loss_weights = LossWeights(args.weight_mel, args.weight_kl, args.weight_duration, args.weight_fm, args.weight_gen,
                               args.weight_disc)
    return Run(args, accelerator, model, discriminator, tokenizer, vocabulary, optimizer_g, optimizer_d, scheduler_g,
               scheduler_d, features, loss_weights, dataset, sampler, eval_dataset, progress,
               discriminator_loaded=args.discriminator is not None, discriminator_origin=origin,
               settings=run_settings(args, data_fingerprint(train_clips, dataset.samples, weights),
                                     voice_names(model.config), kept, decay, accelerator.num_processes),
               prior_kept=kept, prior_reason=why,
               ema=start_ema(model) if decay > 0 else None, ema_decay=decay,
               voice_ids={name: ids[name] for name in voices})


def choose_voice(args, config, voices: list[str]) -> None:
    """Check the voice flags against the data and the model; --voice NAME becomes args.speaker_id."""
    chosen = args.voice if args.voice is not None else (args.speaker_id or None)
    if voices:
        if chosen is not None:
            raise TrainingError("the data names each clip's voice (metadata.csv's middle column): leave out --voice "
                                "and --speaker_id")
        return
    if args.speaker_embedding_size is not None:
        raise TrainingError("--speaker_embedding_size sizes the voices that data naming them adds (prepare_data.py "
                            "--voices): this data names none")
    if args.balance_voices:
        raise TrainingError("--balance_voices needs data that names each clip's voice (prepare_data.py --voices)")
    try:
        args.speaker_id = voice_id(config, chosen) or 0
    except VoiceError as e:
        raise TrainingError(f"--voice: {e}") from e


def balanced(clips: list[Clip], weights: list[float] | None) -> list[float]:
    """Sampling weights that give every voice the same share of the draws (each clip's own weight kept
    within its voice), summing to the number of clips."""
    own = weights or [1.0] * len(clips)
    per_voice: dict[str, float] = {}
    for clip, weight in zip(clips, own):
        per_voice[clip.voice] = per_voice.get(clip.voice, 0.0) + weight
    share = len(clips) / len(per_voice)
    return [weight * share / per_voice[clip.voice] for clip, weight in zip(clips, own)]


def generator_groups(model, args, prior_kept: bool = False) -> list[dict]:
    """The generator's trainable parameters as two optimiser groups: the text encoder, flow and
    duration predictor at the prior's rate (--prior_learning_rate, default --learning_rate), the
    rest (decoder, posterior encoder, and the voices: their embeddings and the layers that feed them
    into the flow and the duration predictor too) at the acoustic rate. The prior's parts get
    no gradient from the mel or adversarial losses, and Adam's step does not grow with a loss's
    weight, so only their learning rate sets how fast they learn."""
    rates = learning_rates(args, prior_kept)
    trainable = [p for p in model.parameters() if p.requires_grad]
    in_prior = {id(p) for part in prior.PRIOR_PARTS for p in getattr(model, part).parameters()}
    if model.config.num_speakers > 1:  # a voice's layers learn at the acoustic rate wherever they sit
        in_prior -= {id(p) for layer in conditioning_layers(model) for p in layer.parameters()}
    groups = ({"part": "prior", "lr": rates["prior"], "params": [p for p in trainable if id(p) in in_prior]},
              {"part": "acoustic", "lr": rates["acoustic"], "params": [p for p in trainable if id(p) not in in_prior]})
    return [group for group in groups if group["params"]]


def fresh_discriminator_config(args, config, from_init_config: DiscriminatorConfig | None) -> tuple[DiscriminatorConfig, str]:
    """The widths of a fresh discriminator, and a phrase that says where they come from: the
    --init_config's "discriminator" section; else the config of a discriminator saved with the
    model (`<model>-discriminator/`, as train_vits.py saves it, or `discriminator/` beside a
    `model/` folder, as data/pretrained/ holds it); else Meta's layout scaled with the generator's
    decoder, so that a small generator does not train against a 47 M-parameter discriminator."""
    if from_init_config is not None:
        return from_init_config, f"widths from {args.init_config}"
    model = Path(str(args.model_name_or_path))
    if not args.init_config and model.is_dir():
        for folder in (discriminator_folder(model), model.parent / "discriminator"):
            saved = folder / DISCRIMINATOR_CONFIG_FILE
            if saved.is_file():
                try:
                    values = json.loads(saved.read_text(encoding="utf-8"))
                    return DiscriminatorConfig.from_dict(values), f"widths of {saved}"
                except (json.JSONDecodeError, ValueError, TypeError) as e:
                    raise TrainingError(f"{saved} is not a discriminator config ({e}); remove it or pass "
                                        f"--discriminator") from e
    channels = config.upsample_initial_channel
    scaled = DiscriminatorConfig.scaled_to(channels)
    layout = "Meta's layout" if scaled == DiscriminatorConfig() else "Meta's layout scaled"
    return scaled, f"{layout} for a decoder of {channels} channels"


def check_alignable(dataset: TtsDataset, hop_length: int, show: int = 3) -> None:
    """Every token needs at least one spectrogram frame: audio too short for its text cannot be aligned."""
    short = [clip.file for clip, samples in zip(dataset.clips, dataset.samples)
             if too_short(samples, len(dataset.tokenizer(clip.text).input_ids), hop_length)]
    if short:
        raise TrainingError(f"{len(short)} clips are too short for their text (fewer frames than tokens): "
                            f"{', '.join(short[:show])}; remove them from the metadata or re-run prepare_data.py")
