"""Generated material for tests, benchmarks and demos: speech-like and espeak-ng clips, Common Voice
layouts, tiny training folders, the sentence list, and a service running in a thread."""
