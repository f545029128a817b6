"""The VITS training engine shared by `train_vits.py` and `train_feedback.py`.

Modules in the order they import each other (each only from those above it):

    errors.py       TrainingError (one line for the user), TrainingInterrupted, CheckpointError
    folders.py      where a run writes beside its model: the discriminator, the logs and samples
    arguments.py    every flag (`add_training_arguments`), the rules between them, the learning rates
    settings.py     what a checkpoint records of a run (its settings, a fingerprint of its data) and the check on resume
    state.py        what the loop works with (`Run`, `Progress`)
    prior.py        whether a fine-tune keeps the pretrained prior (--keep_prior): the recordings' fit to it
    card.py         the model card and the licence it passes on
    evaluation.py   held-out losses and scores, spoken samples, pictures
    output.py       the final `transformers` model folder and the discriminator beside it
    checkpoints.py  atomic resumable checkpoints, checked against the run that resumes them
    run.py          `build_run`: a run built from the flags and the data
    loop.py         `train(args, ...)`: the steps, the updates, logging, stopping on a signal
"""

from kurdish_tts.training.arguments import add_training_arguments, check_arguments
from kurdish_tts.training.errors import TrainingError, TrainingInterrupted
from kurdish_tts.training.loop import train

__all__ = ["TrainingError", "TrainingInterrupted", "add_training_arguments", "check_arguments", "train"]
