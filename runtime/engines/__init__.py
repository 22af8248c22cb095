"""Building lower-precision artifacts from a generator ONNX: FP16 ONNX, TensorRT engines for
NVIDIA GPUs and OpenVINO engines (FP32, bf16, INT8) for the CPU they were built on.

Every artifact is cached under a manifest that says what it was built from and for, and is
used only after it passed the parity gate against the FP32 ONNX Runtime reference. Nothing in
this package imports TensorRT, cuda-python, OpenVINO or NNCF until such a build is asked for.
"""
