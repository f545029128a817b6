"""Shared parts of the Kurmanji MMS-VITS toolkit: audio, text, metadata and the VITS training engine."""
