"""The data side: Common Voice sources, clip audio, the metadata contract, the training dataset and its
charts, and DNSMOS (naturalness.py: data preparation filters on it, evaluation reports it)."""
