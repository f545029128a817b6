"""A Kurmanji Kurdish text-to-speech toolkit: fine-tune MMS-VITS on Common Voice or a person's own voice.

The subpackages follow the pipeline, each importing only those before it:

    files, hub, options  atomic files and locks; the model hub; command-line helpers
    text/                the normaliser (numbers, dates, abbreviations...) and the model's vocabulary
    corpus/              Common Voice sources, clip audio, the metadata contract, the training dataset
    vits/                the VITS parts `transformers` lacks: features, alignment, losses, discriminator
    synthesis/           speaking a text: PyTorch and ONNX engines, the voice
    scoring/             measures of a voice (CER, MCD, duration, loudness) and reference signals
    training/            the training engine shared by train_vits.py and train_feedback.py
    feedback/            corrections from users, their intake, and installing a retrained model
    serving/             the voice service behind serve.py
    samples/             generated clips, data sets and a running service for tests and benchmarks
"""
