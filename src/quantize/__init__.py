"""Quantized (int8) CPU inference through oneDNN: the arithmetic's NumPy reference, the calibration of
activation ranges and its file, the compiled operators, and the int8 network built from a float one.

``MODEL.PRECISION`` (fp32 | int8 | bf16) picks the precision of inference; ``MODEL.CALIBRATION_FILE`` names the
file ``python -m src.quantize.calibrate`` writes. Training always runs in float32; checkpoints are unchanged.
"""
