""".cube files: reading what grading tools write, and one-line errors naming the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imggen_rt import ImggenError
from imggen_rt.post import Lut, PostChain, identity_table, parse_cube, read_cube, write_cube
from imggen_rt.post.cube import LOOKS_DIR


def cube_text(size: int = 2, header: str = "", body: list[str] | None = None) -> str:
    lines = [header] if header else []
    lines.append(f"LUT_3D_SIZE {size}")
    if body is None:
        body = [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in identity_table(size).reshape(-1, 3)]
    return "\n".join(lines + body) + "\n"


def test_read_resolve_style_file(tmp_path: Path) -> None:
    text = (
        "# Created by a grading tool\n"
        'TITLE "Warm look"\n'
        "LUT_3D_SIZE 2\n"
        "DOMAIN_MIN 0.0 0.0 0.0\n"
        "DOMAIN_MAX 1.0 1.0 1.0\n"
        "\n"
        "0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1  # white\n"
    )
    path = tmp_path / "warm.cube"
    path.write_text(text)
    lut = read_cube(path)
    assert lut.title == "Warm look" and lut.size == 2
    # red varies fastest: entry 1 is (r=1, g=0, b=0), stored at table[b=0, g=0, r=1]
    np.testing.assert_array_equal(lut.table[0, 0, 1], [1, 0, 0])
    np.testing.assert_array_equal(lut.table[1, 0, 0], [0, 0, 1])


@pytest.mark.parametrize("size", [17, 33, 65])
def test_round_trip_and_identity(tmp_path: Path, size: int) -> None:
    path = tmp_path / f"id{size}.cube"
    write_cube(path, identity_table(size), title="identity")
    lut = read_cube(path)
    assert lut.size == size
    np.testing.assert_allclose(lut.table, identity_table(size), atol=1e-6)
    frames = np.random.default_rng(size).integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(PostChain([Lut(lut)]).apply(frames), frames)


def test_domain_lines(tmp_path: Path) -> None:
    lut = parse_cube(cube_text(header="DOMAIN_MIN -0.5 0 0\nDOMAIN_MAX 1.5 2 1"))
    assert lut.domain_min == (-0.5, 0.0, 0.0) and lut.domain_max == (1.5, 2.0, 1.0)


@pytest.mark.parametrize(
    "text, message",
    [
        (cube_text(body=["0 0 0"] * 7 + ["1 1"]), r"line 9: expected three numbers; got '1 1'"),
        (
            cube_text(body=["0 0 0"] * 7),
            r"line 8: LUT_3D_SIZE 2 needs 8 table lines; the file has 7",
        ),
        (cube_text(body=["0 0 0"] * 7 + ["1 x 1"]), r"line 9: expected three numbers"),
        (cube_text(body=["0 0 0"] * 7 + ["nan 0 0"]), r"line 9: values must be finite"),
        ("LUT_3D_SIZE banana\n", r"line 1: LUT_3D_SIZE needs an integer"),
        ("LUT_3D_SIZE 1\n", r"line 1: LUT_3D_SIZE must be 2..256"),
        ("LUT_1D_SIZE 1024\n", r"line 1: 1D LUTs are not supported"),
        ("0 0 0\n", r"line 1: table data before LUT_3D_SIZE"),
        ("# nothing\n", r"no LUT_3D_SIZE line"),
        (cube_text(header="DOMAIN_MIN 0 0"), r"line 1: expected three numbers"),
        (cube_text(header="DOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 1 1"), r"DOMAIN_MIN .* below DOMAIN_MAX"),
        (cube_text() + "LUT_3D_SIZE 2\n", r"line 10: keyword LUT_3D_SIZE after the table"),
    ],
)
def test_malformed_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ImggenError, match=message) as info:
        parse_cube(text, "look.cube")
    assert "\n" not in str(info.value) and str(info.value).startswith("look.cube")


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ImggenError, match="does not exist"):
        read_cube(tmp_path / "nope.cube")
    binary = tmp_path / "binary.cube"
    binary.write_bytes(b"\xff\xfe\x00\x80" * 10)
    with pytest.raises(ImggenError, match="is not UTF-8 text"):
        read_cube(binary)


def test_shipped_looks_load_by_name() -> None:
    names = sorted(p.stem for p in LOOKS_DIR.glob("*.cube"))
    assert "teal-orange" in names
    lut = Lut.from_file("teal-orange")
    assert lut.cube.size == 33
    gray = np.repeat(np.arange(0, 256, 17, dtype=np.uint8)[None, None, :, None], 3, axis=3)
    out = PostChain([lut]).apply(gray).astype(int)
    # The look: cool (teal) shadows, warm (orange) highlights.
    assert out[0, 0, 3, 2] > out[0, 0, 3, 0] and out[0, 0, -3, 0] > out[0, 0, -3, 2]
