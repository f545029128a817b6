"""Measures of a voice (the judge's CER, MCD, duration and loudness ratios, DNSMOS from
kurdish_tts.corpus.naturalness) and the reference signals they are read beside."""
