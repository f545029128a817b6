"""The ways a training stops short, each shown to the user as one line."""


class TrainingError(RuntimeError):
    """A problem the user can fix: one line, no traceback."""


class TrainingInterrupted(RuntimeError):
    """Stopped by Ctrl-C or SIGTERM after saving a checkpoint."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed, or not with these settings: one line."""
