"""Text made speakable: the Kurmanji normaliser (numbers, dates, currencies, abbreviations) and the model's vocabulary."""
