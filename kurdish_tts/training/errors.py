"""The two ways a training ends early, both shown to the user as one line."""


class TrainingError(RuntimeError):
    """A problem the user can fix: one line, no traceback."""


class TrainingInterrupted(RuntimeError):
    """Stopped by Ctrl-C or SIGTERM after saving a checkpoint."""
