"""The voice service behind serve.py: the models it serves, audio encodings, keys, limits, votes and its routes."""
