"""Measures of a voice (the judge's CER, MCD, duration and loudness ratios) and the reference signals they are read beside."""
