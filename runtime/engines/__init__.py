"""Building lower-precision artifacts from a generator ONNX: FP16 ONNX and TensorRT engines.

Every artifact is cached under a manifest that says what it was built from and for, and is
used only after it passed the parity gate against the FP32 ONNX Runtime reference. Nothing in
this package imports TensorRT or cuda-python until a TensorRT build is asked for.
"""
