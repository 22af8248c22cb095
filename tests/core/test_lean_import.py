"""The runtime must never pull torch (or the training side) in."""

from __future__ import annotations

import subprocess
import sys

from tiny_models import TinyGenerator


def test_runtime_imports_and_generates_without_torch(tiny_rgb: TinyGenerator) -> None:
    code = (
        "import sys, imggen_rt\n"
        f"g = imggen_rt.load({str(tiny_rgb.path)!r})\n"
        "g.generate(n=2)\n"
        "import imggen_rt.cli.main, imggen_rt.flops, imggen_rt.onnx_graph\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' or 'imggen_rt.export' in m]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
