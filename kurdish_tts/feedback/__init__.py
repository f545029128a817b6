"""Corrections from users: the store of pending and archived samples, their intake, and installing a retrained model."""
