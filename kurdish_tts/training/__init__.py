"""The VITS training engine shared by `train_vits.py` and `train_feedback.py`.

    arguments.py    every flag (`add_training_arguments`), the rules between them, the logging folder
    run.py          a run: what the loop works with (`Run`, `Progress`), built from the flags and the data
    loop.py         `train(args, ...)`: the steps, the updates, logging, stopping on a signal
    checkpoints.py  atomic resumable checkpoints, checked against the run that resumes them
    evaluation.py   held-out losses and scores, spoken samples, pictures
    output.py       the final `transformers` model folder and the discriminator beside it
    card.py         the model card and the licence it passes on
    errors.py       TrainingError (one line for the user), TrainingInterrupted
"""

from kurdish_tts.training.arguments import add_training_arguments, check_arguments
from kurdish_tts.training.errors import TrainingError, TrainingInterrupted
from kurdish_tts.training.loop import train

__all__ = ["TrainingError", "TrainingInterrupted", "add_training_arguments", "check_arguments", "train"]
