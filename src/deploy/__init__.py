"""Deployment: ONNX export repairs, the C++ app's .bin files and a MindIR runner with the same contract."""
