"""The data side: Common Voice sources, clip audio, the metadata contract, the training dataset and its charts."""
