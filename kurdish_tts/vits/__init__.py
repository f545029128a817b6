"""The parts of VITS training that `transformers` lacks: features, alignment, duration, generator forward, discriminator, losses."""
