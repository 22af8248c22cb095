"""The README's two commands are the contract with a fresh machine: keep them true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [block.strip() for block in blocks]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_generate_command_uses_a_bundled_model() -> None:
    from imggen_rt.bundled import BUNDLED

    generate = next(c for c in readme_commands() if "imggen-rt generate" in c)
    assert generate.startswith("pip install . && imggen-rt generate")
    named = re.search(r" -m (\S+)", generate)
    if named:  # a model by name must ship inside the package
        assert BUNDLED[named.group(1)].installed


@pytest.mark.slow  # streams the 10k images of the README example
def test_readme_python_example_runs(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert code is not None
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "10000 images streamed" in done.stdout
