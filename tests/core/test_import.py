"""`imggen-rt import` on generators the project did not write (tests/zoo.py), then every path:
generate on each CPU backend against torch's own output, the FP16 gate, a walk, the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("torch")

from zoo import ZooModel, build_zoo

import imggen_rt
from imggen_rt.cli.main import main
from imggen_rt.contract import canonical_output, graph_inputs
from imggen_rt.errors import ImggenError
from imggen_rt.importer import ImportOptions, import_model, infer_contract
from imggen_rt.postprocess import denormalize

pytestmark = pytest.mark.train  # torch exports the zoo

IMPORTABLE = ["dcgan", "conditional_sigmoid", "vae_decoder", "nhwc_bytes", "bgr", "stylegan_like"]
EXPECTED = {  # what the import must find without being told
    "dcgan": {"latent_shape": [None, 16, 1, 1], "range": [-1.0, 1.0], "layout": "nchw"},
    "conditional_sigmoid": {"range": [0.0, 1.0], "classes": 5, "encoding": "ids"},
    "vae_decoder": {"range": [0.0, 1.0], "layout": "nchw"},
    "nhwc_bytes": {"range": [0.0, 255.0], "layout": "nhwc"},
    "bgr": {"range": [-1.0, 1.0], "order": "bgr"},
    "stylegan_like": {"range": [-1.0, 1.0], "classes": 4, "encoding": "onehot", "noise": 2},
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ZooModel]:
    return build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="module")
def imported(zoo: dict[str, ZooModel], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("imported")
    paths = {}
    for name in IMPORTABLE:
        paths[name] = folder / f"{name}.onnx"
        assert main(["import", str(zoo[name].path), "-o", str(paths[name]), *zoo[name].flags]) == 0
    return paths


def torch_frames(model: ZooModel, gen: imggen_rt.ImageGenerator, seeds: list[int]) -> np.ndarray:
    """The frames torch makes from the feeds the runtime makes for these seeds."""
    card = gen.card
    feeds = gen.feeds_for_seeds(seeds)
    images = model.torch_output(graph_inputs(card.input_specs, card.num_classes, feeds))
    low, high = card.output_range
    order = "gray" if card.channels == 1 else "rgb"
    return denormalize(canonical_output(card.output, images), low, high, order)


@pytest.mark.parametrize("name", IMPORTABLE)
def test_import_infers_the_contract_from_the_evidence(
    name: str, zoo: dict[str, ZooModel], imported: dict[str, Path]
) -> None:
    card = imggen_rt.load(imported[name], backend="ort").card
    want = EXPECTED[name]
    assert list(card.output_range) == want["range"]
    if "layout" in want:
        assert card.output.layout == want["layout"]
    assert card.output.channel_order == want.get("order", "rgb")
    if "latent_shape" in want:
        assert list(card.inputs_with_role("latent")[0].shape) == want["latent_shape"]
    if "classes" in want:
        (spec,) = card.inputs_with_role("class")
        assert card.num_classes == want["classes"] and spec.encoding == want["encoding"]
    assert len(card.inputs_with_role("noise")) == want.get("noise", 0)
    # the source file is left as it was: no card written into it
    source = onnx.load(str(zoo[name].path), load_external_data=False)
    assert not any(p.key.startswith("imggen.") for p in source.metadata_props)


@pytest.mark.parametrize("backend", ["ort", "openvino"])
@pytest.mark.parametrize("name", IMPORTABLE)
def test_generated_images_equal_torch_within_one_level(
    name: str, backend: str, zoo: dict[str, ZooModel], imported: dict[str, Path]
) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    seeds = [0, 5, 6, 11, 12]
    with imggen_rt.load(imported[name], backend=backend) as gen:
        frames = gen.generate(seeds=seeds, batch_size=2)
        alone = gen.generate(seeds=[11])
        expected = torch_frames(zoo[name], gen, seeds)
    diff = np.abs(frames.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1, f"{name} on {backend}: {diff.max()} levels off torch"
    np.testing.assert_array_equal(alone[0], frames[3])  # batch size changes nothing


def test_knobs_are_fed_and_checked(imported: dict[str, Path], zoo: dict[str, ZooModel]) -> None:
    with imggen_rt.load(imported["stylegan_like"], backend="ort") as gen:
        default = gen.generate(seeds=[3, 4])
        truncated = gen.generate(seeds=[3, 4], scalars={"psi": 0.5})
        assert not np.array_equal(default, truncated)
        feeds = gen.feeds_for_seeds([3, 4], scalars={"psi": 0.5})
        assert feeds.extra["psi"].tolist() == [0.5, 0.5]
        with pytest.raises(ImggenError, match=r"unknown knob.*this model's knobs: psi"):
            gen.generate(seeds=[1], scalars={"strength": 2.0})
    with (
        imggen_rt.load(imported["dcgan"], backend="ort") as gen,
        pytest.raises(ImggenError, match="this model's knobs: none"),
    ):
        gen.generate(seeds=[1], scalars={"psi": 0.5})


def test_noise_is_per_seed_and_fixed_across_a_walk(imported: dict[str, Path]) -> None:
    from imggen_rt.video.frames import FrameMaker
    from imggen_rt.walks import KeyframeWalk

    with imggen_rt.load(imported["stylegan_like"], backend="ort") as gen:
        a = gen.feeds_for_seeds([7, 8])
        b = gen.feeds_for_seeds([8])
        np.testing.assert_array_equal(a.extra["noise1"][1], b.extra["noise1"][0])
        assert not np.array_equal(a.extra["noise1"][0], a.extra["noise1"][1])
        walk = KeyframeWalk([7, 9], 4, gen.card.latent_dim, classes=[1, 1])
        frames = FrameMaker(gen, walk).make(range(walk.length))
        assert frames.shape == (5, 8, 8, 3)
        # the walk's first frame is seed 7's image: its latent and (walk-wide) noise
        np.testing.assert_array_equal(frames[0], gen.generate(seeds=[7], classes=1)[0])
        walk_feeds = gen.feeds_for_walk(walk, range(walk.length))
        assert np.all(walk_feeds.extra["noise0"] == walk_feeds.extra["noise0"][0])


def test_fp16_build_passes_the_gate(imported: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnxconverter_common")
    from imggen_rt.engines.pipeline import BuildSpec, build

    for name in ("stylegan_like", "nhwc_bytes"):
        outcome = build(BuildSpec(imported[name], target="onnx-fp16", cache_dir=tmp_path))
        assert outcome.manifest.parity is not None and outcome.manifest.parity.passed
        with imggen_rt.load(outcome.artifact, backend="ort") as half:
            assert half.generate(seeds=[1, 2]).shape[0] == 2


def test_a_server_request_returns_the_cli_png(imported: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from imggen_rt.serve.app import create_app
    from imggen_rt.serve.config import ServeConfig

    path = imported["stylegan_like"]
    out = tmp_path / "cli"
    assert main(["generate", "-m", str(path), "--seeds", "4", "-o", str(out), "--no-progress"]) == 0
    gen = imggen_rt.load(path, backend="ort")
    with TestClient(create_app({"sg": gen}, ServeConfig())) as client:
        answer = client.post("/v1/generate", json={"seeds": [4], "class": "fox"})
        default_class = client.post("/v1/generate", json={"seeds": [4]})
        models = client.get("/v1/models").json()
    assert answer.status_code == 200 and default_class.status_code == 200
    assert default_class.content == (out / "seed000004.png").read_bytes()
    assert answer.headers["x-class-id"] == "2"
    roles = [spec["role"] for spec in models[0]["card"]["inputs"]]
    assert roles == ["latent", "class", "scalar", "noise", "noise"]


@pytest.mark.parametrize(
    ("name", "flags", "message"),
    [
        ("conditional_sigmoid", [], "name them with --classes"),
        ("stylegan_like", ["--classes", "a,b,c,d"], "choose --noise normal"),
        ("stylegan_like", ["--classes", "a,b", "--noise", "zeros"], "--classes names 2"),
        ("vae_decoder", ["--output-range", "-1:1"], "--output-range -1:1 is refuted"),
        ("vae_decoder", ["--output-range", "0:255"], "--output-range 0:255 is refuted"),
        ("vae_decoder", ["--latent", "nope"], "--latent nope: the graph has no such input"),
        ("vae_decoder", ["--classes", "a,b"], "the graph has no class input"),
        ("vae_decoder", ["--scalar", "code"], "write NAME=DEFAULT"),
        ("dcgan", ["--noise", "loud"], "the mode must be normal or zeros"),
        ("rgba", [], "pass --layout nchw or --layout nhwc"),
    ],
)
def test_what_the_evidence_cannot_settle_is_one_line_naming_the_flag(
    name: str,
    flags: list[str],
    message: str,
    zoo: dict[str, ZooModel],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.onnx"
    assert main(["import", str(zoo[name].path), "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_an_rgba_generator_imports_and_makes_rgba_frames(
    zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    out = tmp_path / "rgba.onnx"
    assert main(["import", str(zoo["rgba"].path), "-o", str(out), "--layout", "nchw"]) == 0
    with imggen_rt.load(out, backend="ort") as gen:
        assert gen.card.channels == 4
        frames = gen.generate(seeds=[0, 1])
    assert frames.shape == (2, 4, 4, 4) and frames[..., 3].std() > 0


def test_two_latent_candidates_ask_for_latent(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["b", 8])
    y = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["b", 8])
    out = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["b", 3, 4, 4])
    graph = helper.make_graph([], "two", [x, y], [out])
    model = helper.make_model(graph)
    path = tmp_path / "two.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ImggenError, match="inputs a, b could each be the latent: pass --latent"):
        infer_contract(path)


def test_import_never_overwrites_its_input(zoo: dict[str, ZooModel]) -> None:
    path = zoo["dcgan"].path
    with pytest.raises(ImggenError, match="is the input file"):
        import_model(path, path, ImportOptions())


def test_info_shows_the_inferred_contract_without_writing(
    zoo: dict[str, ZooModel], capsys: pytest.CaptureFixture[str]
) -> None:
    path = zoo["nhwc_bytes"].path
    before = path.read_bytes()
    assert main(["info", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "no card" in shown and "nhwc" in shown and "[0.0, 255.0]" in shown
    assert path.read_bytes() == before


def test_knobs_from_the_cli_the_server_and_an_animated_walk(
    imported: dict[str, Path], tmp_path: Path
) -> None:
    from imggen_rt.walks import KeyframeWalk

    path = imported["stylegan_like"]
    out = tmp_path / "cli"
    args = ["generate", "-m", str(path), "--seeds", "3", "--scalar", "psi=0.5", "-o", str(out)]
    assert main([*args, "--no-progress"]) == 0
    with imggen_rt.load(path, backend="ort") as gen:
        still = gen.generate(seeds=[3], scalars={"psi": 0.5})[0]
        walk = KeyframeWalk(
            [3, 3], 4, gen.card.latent_dim, classes=[3, 3], knobs={"psi": (0.5, 1.0)}
        )
        frames = gen.frames_for_walk(walk, range(walk.length))
        np.testing.assert_array_equal(frames[0], still)  # psi 0.5 at the first frame
        np.testing.assert_array_equal(frames[-1], gen.generate(seeds=[3])[0])  # 1.0 at the last
    frames_dir = tmp_path / "walk"
    video = ["video", "-m", str(path), "--seeds", "3,3", "--frames-per-seed", "4", "--classes"]
    video += ["3,3", "--scalar", "psi=0.5:1", "-o", str(frames_dir / "f.%03d.png")]
    assert main([*video, "--no-progress"]) == 0
    assert len(list(frames_dir.glob("f.*.png"))) == 5
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from imggen_rt.serve.app import create_app
    from imggen_rt.serve.config import ServeConfig

    with TestClient(create_app({"sg": imggen_rt.load(path)}, ServeConfig())) as client:
        answer = client.post("/v1/generate", json={"seeds": [3], "scalars": {"psi": 0.5}})
        unknown = client.post("/v1/generate", json={"seeds": [3], "scalars": {"nope": 1}})
        infinite = client.post(
            "/v1/generate", content=b'{"seeds": [3], "scalars": {"psi": Infinity}}'
        )
    assert answer.content == (out / "seed000003.png").read_bytes()
    assert unknown.status_code == 422 and "this model's knobs: psi" in unknown.text
    assert infinite.status_code == 422


def test_triton_repo_declares_every_input(imported: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("tritonclient")
    from imggen_rt.serve.triton import write_repository

    folder = write_repository(imported["stylegan_like"], tmp_path)
    config = (folder / "config.pbtxt").read_text()
    for name in ("z", "c", "psi", "noise0", "noise1"):
        assert f'name: "{name}"' in config
    assert 'name: "noise1" data_type: TYPE_FP32 dims: [ 1, 8, 8 ]' in config


def test_engine_profiles_cover_every_input(imported: dict[str, Path]) -> None:
    from imggen_rt.backends.profiles import BatchProfile, ort_trt_profile_options

    card = imggen_rt.load(imported["stylegan_like"], backend="ort").card
    options = ort_trt_profile_options(card, BatchProfile((1, 8, 16)))
    assert (
        options["trt_profile_max_shapes"] == "z:16x16,c:16x4,psi:16,noise0:16x1x4x4,noise1:16x1x8x8"
    )
    dcgan = imggen_rt.load(imported["dcgan"], backend="ort").card
    assert ort_trt_profile_options(dcgan, BatchProfile((1, 2, 4)))["trt_profile_min_shapes"] == (
        "input:1x16x1x1"
    )


def test_shape_beats_name_and_a_flat_probe_asks_for_the_range(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    def dcgan_like(scale: float) -> Path:
        weight = np.random.default_rng(0).normal(0, scale, (8, 3, 4, 4)).astype(np.float32)
        graph = helper.make_graph(
            [
                helper.make_node("ConvTranspose", ["noise", "w"], ["pre"]),
                helper.make_node("Tanh", ["pre"], ["img"]),
            ],
            "dcgan_like",
            [helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["b", 8, 1, 1])],
            [helper.make_tensor_value_info("img", TensorProto.FLOAT, ["b", 3, 4, 4])],
            [numpy_helper.from_array(weight, "w")],
        )
        path = tmp_path / f"dcgan_{scale}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        return path

    # a tutorial's DCGAN calls its latent "noise": the (B, Z, 1, 1) shape decides
    card = infer_contract(dcgan_like(0.5)).card
    assert [s.role for s in card.input_specs] == ["latent"] and card.output_range == (-1.0, 1.0)
    with pytest.raises(ImggenError, match=r"too narrow to tell the range.*--output-range"):
        infer_contract(dcgan_like(1e-4))
    flagged = infer_contract(dcgan_like(1e-4), ImportOptions(output_range="-1:1")).card
    assert flagged.output_range == (-1.0, 1.0)


def _save(
    path: Path,
    nodes: list[object],
    inputs: list[object],
    out_shape: list[object],
    inits: list[object],
) -> Path:
    from onnx import TensorProto, helper

    output = helper.make_tensor_value_info("img", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, path.stem, inputs, [output], inits)  # type: ignore[arg-type]
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_fixed_batch_graph_runs_any_batch_size(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(
        np.random.default_rng(0).normal(0, 1, (8, 48)).astype(np.float32), "w"
    )
    shape = numpy_helper.from_array(np.array([1, 3, 4, 4], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["z", "w"], ["h"]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["img"]),
    ]
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8])  # batch 1 only
    src = _save(tmp_path / "fixed.onnx", nodes, [z], [1, 3, 4, 4], [w, shape])
    dst = tmp_path / "fixed.card.onnx"
    import_model(src, dst)
    with imggen_rt.load(dst, backend="ort") as gen:
        assert gen.card.fixed_batch == 1
        frames = gen.generate(seeds=range(5), batch_size=4)
        one_by_one = np.concatenate([gen.generate(seeds=[s]) for s in range(5)])
    np.testing.assert_array_equal(frames, one_by_one)


def test_a_0d_knob_splits_a_merged_batch(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    from imggen_rt.contract import Feeds

    w = numpy_helper.from_array(
        np.random.default_rng(1).normal(0, 1, (8, 48)).astype(np.float32), "w"
    )
    shape = numpy_helper.from_array(np.array([-1, 3, 4, 4], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["z", "w"], ["h"]),
        helper.make_node("Mul", ["h", "psi"], ["hp"]),
        helper.make_node("Tanh", ["hp"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["img"]),
    ]
    inputs = [
        helper.make_tensor_value_info("z", TensorProto.FLOAT, ["b", 8]),
        helper.make_tensor_value_info("psi", TensorProto.FLOAT, []),  # one value per call
    ]
    src = _save(tmp_path / "knob.onnx", nodes, inputs, ["b", 3, 4, 4], [w, shape])
    dst = tmp_path / "knob.card.onnx"
    import_model(src, dst)
    with imggen_rt.load(dst, backend="ort") as gen:
        a = gen.feeds_for_seeds([1, 2], scalars={"psi": 0.5})
        b = gen.feeds_for_seeds([3], scalars={"psi": 0.9})
        merged = gen.frames(Feeds.concat([a, b]))  # what the server's batcher does
        np.testing.assert_array_equal(merged[:2], gen.generate(seeds=[1, 2], scalars={"psi": 0.5}))
        np.testing.assert_array_equal(merged[2:], gen.generate(seeds=[3], scalars={"psi": 0.9}))


def test_class_ids_shaped_b1_and_a_named_latent(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(
        np.random.default_rng(2).normal(0, 1, (8, 48)).astype(np.float32), "w"
    )
    shape = numpy_helper.from_array(np.array([-1, 3, 4, 4], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["a", "w"], ["h"]),
        helper.make_node("Cast", ["label"], ["lf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["h", "lf"], ["hl"]),
        helper.make_node("ReduceSum", ["extra"], ["es"], keepdims=1),
        helper.make_node("Add", ["hl", "es"], ["he"]),
        helper.make_node("Tanh", ["he"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["img"]),
    ]
    inputs = [
        helper.make_tensor_value_info("a", TensorProto.FLOAT, ["b", 8]),
        helper.make_tensor_value_info("label", TensorProto.INT64, ["b", 1]),
        helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["b", 8]),
    ]
    src = _save(tmp_path / "two.onnx", nodes, inputs, ["b", 3, 4, 4], [w, shape])
    # two (B, 8) floats: ambiguous until --latent names one; the other is then not a latent
    with pytest.raises(ImggenError, match="could each be the latent"):
        infer_contract(src, ImportOptions(class_names=("x", "y")))
    with pytest.raises(ImggenError, match="could each be the class"):
        infer_contract(src, ImportOptions(latent="a", class_names=("x", "y")))
    options = ImportOptions(
        latent="a", class_input="label", class_names=("x", "y"), noise=("extra:zeros",)
    )
    card = import_model(src, tmp_path / "two.card.onnx", options).card
    assert [s.role for s in card.input_specs] == ["latent", "class", "noise"]
    with imggen_rt.load(tmp_path / "two.card.onnx", backend="ort") as gen:
        assert gen.generate(seeds=[1, 2, 3], batch_size=2).shape == (3, 4, 4, 3)
