"""Speaking a text with a trained voice: the PyTorch and ONNX engines and the voice that splits, normalises and joins."""
