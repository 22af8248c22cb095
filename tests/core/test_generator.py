from __future__ import annotations

import numpy as np
import pytest
from tiny_models import TinyGenerator

import imggen_rt
from imggen_rt import ImggenError
from imggen_rt.contract import Feeds
from imggen_rt.latents import latents_for_seeds
from imggen_rt.postprocess import denormalize_reference


def expected_frames(
    tiny: TinyGenerator, seeds: list[int], classes: list[int] | None, order: str
) -> np.ndarray:
    z = latents_for_seeds(seeds, tiny.card.latent_dim)
    c = np.asarray(classes) if classes is not None else None
    return denormalize_reference(tiny.reference(z, c), -1.0, 1.0, order)


@pytest.mark.parametrize("order", ["rgb", "bgr", "gray"])
def test_frames_match_the_numpy_meaning_of_the_model(tiny_rgb: TinyGenerator, order: str) -> None:
    with imggen_rt.load(tiny_rgb.path, order=order) as gen:
        frames = gen.generate(seeds=[5, 6, 7], batch_size=2)
    expected = expected_frames(tiny_rgb, [5, 6, 7], None, order)
    assert frames.dtype == np.uint8
    assert frames.shape == (3, 6, 5, 1 if order == "gray" else 3)
    # ONNX Runtime's tanh/gemm may differ from float64 numpy by an ulp: allow 1 LSB.
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1


def test_an_image_does_not_depend_on_its_batch(tiny_conditional: TinyGenerator) -> None:
    with imggen_rt.load(tiny_conditional.path) as gen:
        alone = gen.generate(seeds=[41], classes="dog")
        in_batch = gen.generate(n=64, seed=0, classes="dog", batch_size=64)
        streamed = np.concatenate(
            [b.frames for b in gen.iter_batches(n=64, classes="dog", batch_size=7)]
        )
    np.testing.assert_array_equal(alone[0], in_batch[41])
    np.testing.assert_array_equal(streamed, in_batch)


def test_class_defaults_to_seed_modulo_classes(tiny_conditional: TinyGenerator) -> None:
    with imggen_rt.load(tiny_conditional.path) as gen:
        default = gen.generate(seeds=[0, 1, 2, 3])
        explicit = gen.generate(seeds=[0, 1, 2, 3], classes=[0, 1, 2, 0])
        assert gen.card.num_classes == 3
    np.testing.assert_array_equal(default, explicit)
    expected = expected_frames(tiny_conditional, [0, 1, 2, 3], [0, 1, 2, 0], "gray")
    assert np.abs(default.astype(int) - expected.astype(int)).max() <= 1


def test_truncation_changes_images(tiny_rgb: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgb.path) as gen:
        full = gen.generate(seeds=[1])
        trunc = gen.generate(seeds=[1], truncation=0.3)
    assert not np.array_equal(full, trunc)


def test_one_channel_model_stays_one_channel_unless_colour_is_asked(
    tiny_conditional: TinyGenerator,
) -> None:
    with imggen_rt.load(tiny_conditional.path) as gen:
        assert gen.generate(seeds=[1]).shape[-1] == 1
        rgb = gen.generate(seeds=[1], order="bgr")
    assert rgb.shape[-1] == 3
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": "bird"}, "unknown class"),
        ({"classes": [0, 1]}, "2 classes given for 1 seeds"),
        ({"batch_size": 0}, "batch size"),
        ({"truncation": 2.0}, "truncation"),
        ({"n": 3}, "disagrees"),
    ],
)
def test_bad_arguments(tiny_conditional: TinyGenerator, kwargs: dict, message: str) -> None:
    with imggen_rt.load(tiny_conditional.path) as gen, pytest.raises(ImggenError, match=message):
        gen.generate(seeds=[1], **kwargs)


def test_class_given_to_an_unconditional_model(tiny_rgb: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgb.path) as gen, pytest.raises(ImggenError, match="not class"):
        gen.generate(seeds=[1], classes=0)


def test_missing_model_and_unknown_backend(tiny_rgb: TinyGenerator, tmp_path) -> None:
    with pytest.raises(ImggenError, match="does not exist"):
        imggen_rt.load(tmp_path / "nope.onnx")
    with pytest.raises(ImggenError, match="unknown backend"):
        imggen_rt.load(tiny_rgb.path, backend="tpu")


def test_backend_reuses_its_output_buffer(tiny_rgb: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgb.path) as gen:
        z = latents_for_seeds([1, 2, 3, 4], 8)
        first = gen.backend.infer(Feeds(z))
        second = gen.backend.infer(Feeds(z[:2]))
        assert np.shares_memory(first, second)
        assert gen.backend.describe()["threads"] >= 1
