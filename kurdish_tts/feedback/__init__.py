"""Corrections from users: the store of pending and archived samples, their intake, and installing a retrained model.

Modules in the order they import each other (each only from those above it):

    names.py         the folder names a round leaves beside the model: backups, rejected, the round's own
    store.py         FeedbackStore: pending and archived corrections, each change locked and atomic
    batch.py         many corrections at once: the CSV / JSON Lines format an app writes, judged row by row
    voices.py        which voice a correction is for, checked against the model's voices
    staging.py       a round's data folder: the base clips and a snapshot of the feedback, linked
    installation.py  the install check, installing a round's model, backups and rollback, repairs after a kill
"""
