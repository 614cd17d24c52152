"""Augmentation: the affine warp against closed forms and PyTorch's grid_sample, the four
Keras layers' semantics (direction of rotation, zoom out, shift), training-only behaviour,
reproducibility, the user's data left alone, saving, placement and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netcore.backend.base import Backend
from netcore.backend.cpu import CPUBackend
from netcore.layers import (
    Conv2D,
    Dense,
    Flatten,
    Layer,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from netcore.models import Sequential
from netcore.saving.loader import load_model

REF = Backend(np, seed=0)
CPU = CPUBackend(seed=0)
MODES = ("reflect", "wrap", "nearest", "constant")


def rows(*maps):
    return np.array(maps, dtype=np.float64)


def built(layer, shape=(6, 8, 2), seed=1):
    Sequential([layer], seed=seed, dtype="float64").build(shape)
    return layer


@pytest.fixture
def img():
    return np.random.default_rng(7).normal(size=(2, 6, 8, 3))


# ---------------------------------------------------------------- the warp, closed forms
@pytest.mark.parametrize("be", [REF, CPU], ids=["reference", "cpu-kernel"])
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_warp_integer_shifts_match_roll_and_pad(be, interp, img):
    """Shifting by whole pixels: wrap is np.roll, reflect np.pad "symmetric", nearest np.pad
    "edge", constant the fill value -- under both interpolations."""
    dx, dy = 3, -2  # content moves 3 right and 2 up: output (x, y) reads input (x-3, y+2)
    t = rows(*[(1, 0, -dx, 0, 1, -dy)] * 2)
    np.testing.assert_allclose(
        be.affine_warp(img, t, "wrap", interp), np.roll(img, (dy, dx), axis=(1, 2))
    )
    for mode, pad in (("reflect", "symmetric"), ("nearest", "edge")):
        padded = np.pad(img, ((0, 0), (8, 8), (8, 8), (0, 0)), mode=pad)  # type: ignore[call-overload]
        want = padded[:, 8 - dy : 8 - dy + 6, 8 - dx : 8 - dx + 8]
        np.testing.assert_allclose(be.affine_warp(img, t, mode, interp), want)
    got = be.affine_warp(img, t, "constant", interp, fill_value=-5.0)
    want = np.full_like(img, -5.0)
    want[:, :4, 3:] = img[:, 2:, :5]
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("be", [REF, CPU], ids=["reference", "cpu-kernel"])
def test_warp_far_outside_reflects_and_wraps_periodically(be):
    """Taps many image widths away: reflect has period 2w, wrap period w."""
    x = np.arange(4.0).reshape(1, 1, 4, 1)
    for shift, mode in ((8, "reflect"), (4, "wrap"), (-12, "wrap"), (-16, "reflect")):
        got = be.affine_warp(x, rows((1, 0, shift, 0, 1, 0)), mode, "nearest")
        np.testing.assert_array_equal(got, x, err_msg=f"{mode} {shift}")
    got = be.affine_warp(x, rows((1, 0, 4, 0, 1, 0)), "reflect", "nearest")
    np.testing.assert_array_equal(got.ravel(), [3, 2, 1, 0])


@pytest.mark.parametrize("be", [REF, CPU], ids=["reference", "cpu-kernel"])
def test_bilinear_weights_are_the_fractional_offsets(be):
    """Half a pixel right on a ramp: the mean of neighbours (linear data is reproduced)."""
    x = np.arange(5.0).reshape(1, 1, 5, 1) * 2.0
    got = be.affine_warp(x, rows((1, 0, 0.25, 0, 1, 0)), "nearest", "bilinear")
    np.testing.assert_allclose(got.ravel(), [0.5, 2.5, 4.5, 6.5, 8.0])


def test_nearest_rounds_halves_to_even():
    x = np.arange(6.0).reshape(1, 1, 6, 1)
    got = CPU.affine_warp(x, rows((1, 0, 0.5, 0, 1, 0)), "nearest", "nearest")
    np.testing.assert_array_equal(got.ravel(), [0, 2, 2, 4, 4, 5])  # np.round: 0.5->0, 1.5->2


@pytest.mark.parametrize("mode, padding", [("constant", "zeros"), ("nearest", "border")])
@pytest.mark.parametrize("interp", ["bilinear", "nearest"])
def test_warp_matches_torch_grid_sample(mode, padding, interp):
    """Random affine maps against ``grid_sample(align_corners=True)``: zeros padding is the
    constant mode with fill 0 tap by tap, border padding the nearest mode."""
    torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the independent reference")
    rng = np.random.default_rng(3)
    n, h, w, c = 3, 7, 9, 2
    x = rng.normal(size=(n, h, w, c))
    t = np.concatenate([rng.normal(0, 1, (n, 2)), rng.uniform(-4, 4, (n, 1))], 1)
    t = np.concatenate([t, rng.normal(0, 1, (n, 2)), rng.uniform(-4, 4, (n, 1))], 1)
    oy, ox = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = t[:, 0, None, None] * ox + t[:, 1, None, None] * oy + t[:, 2, None, None]
    sy = t[:, 3, None, None] * ox + t[:, 4, None, None] * oy + t[:, 5, None, None]
    grid = np.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], -1)
    want = torch.nn.functional.grid_sample(
        torch.tensor(x.transpose(0, 3, 1, 2)),
        torch.tensor(grid),
        mode=interp,
        padding_mode=padding,
        align_corners=True,
    )
    want = want.numpy().transpose(0, 2, 3, 1)
    for be in (REF, CPU):
        np.testing.assert_allclose(be.affine_warp(x, t, mode, interp), want, atol=1e-12)


def test_warp_never_writes_its_input(img):
    before = img.copy()
    t = rows(*[(0.9, 0.2, 1.0, -0.3, 1.1, -0.5)] * 2)
    for be in (REF, CPU):
        for mode in MODES:
            be.affine_warp(img, t, mode, "bilinear", out=np.empty_like(img))
    np.testing.assert_array_equal(img, before)


# ---------------------------------------------------------------- the layers' semantics
def test_rotation_quarter_turn_is_counter_clockwise():
    """factor (0.25, 0.25): a quarter turn, positive = counter-clockwise = np.rot90."""
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 1))
    layer = built(RandomRotation((0.25, 0.25), interpolation="nearest"), (5, 5, 1))
    np.testing.assert_allclose(layer.forward(x, training=True), np.rot90(x, 1, axes=(1, 2)))


def test_zoom_positive_zooms_out_and_keeps_the_aspect():
    """height_factor 1 (zoom 2, out): the image shrinks to the centre half, the rest is fill;
    width_factor=None uses the same zoom across."""
    x = np.ones((1, 9, 9, 1))
    layer = built(RandomZoom((1.0, 1.0), fill_mode="constant", fill_value=0.0), (9, 9, 1))
    y = layer.forward(x, training=True)[0, :, :, 0]
    # output (o) samples input 2 o - 4: inside [0, 8] for o in [2, 6]
    want = np.zeros((9, 9))
    want[2:7, 2:7] = 1.0
    np.testing.assert_allclose(y, want)
    zin = built(RandomZoom((-0.5, -0.5), interpolation="nearest"), (9, 9, 1))
    ramp = np.arange(9.0).reshape(1, 1, 9, 1) * np.ones((1, 9, 1, 1))
    got = zin.forward(ramp, training=True)[0, 4, :, 0]  # zoom in 2x: samples 0.5 o + 2
    np.testing.assert_allclose(got, np.round(0.5 * np.arange(9) + 2))


def test_translation_moves_content_down_and_right():
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 1))
    layer = RandomTranslation((0.25, 0.25), (0.5, 0.5), fill_mode="wrap")
    built(layer, (8, 8, 1))
    np.testing.assert_allclose(layer.forward(x, training=True), np.roll(x, (2, 4), axis=(1, 2)))


def test_flip_modes_flip_each_image_or_leave_it():
    x = np.random.default_rng(2).normal(size=(64, 4, 5, 1))
    for mode, axes in (("horizontal", [2]), ("vertical", [1]), ("horizontal_and_vertical", [1, 2])):
        layer = built(RandomFlip(mode, seed=4), (4, 5, 1))
        y = layer.forward(x, training=True)
        seen = set()
        for i in range(len(x)):
            options = {
                k: np.flip(x[i], axis=tuple(a - 1 for a in ax))
                for k, ax in (("none", []), ("h", [2]), ("v", [1]), ("hv", [1, 2]))
                if set(ax) <= set(axes)
            }
            hit = [k for k, v in options.items() if np.array_equal(y[i], v)]
            assert hit, f"{mode}: image {i} is no flip of its input"
            seen.add(hit[0])
        assert len(seen) == 2 ** len(axes), f"{mode}: saw only {seen}"


def test_each_image_gets_its_own_transform():
    x = np.tile(np.random.default_rng(3).normal(size=(1, 6, 6, 1)), (8, 1, 1, 1))
    y = built(RandomRotation(0.2), (6, 6, 1)).forward(x, training=True)
    assert len({y[i].tobytes() for i in range(8)}) == 8


# ---------------------------------------------------------------- inside a model
def cnn(seed=5, aug=True):
    layers: list[Layer] = (
        [RandomRotation(0.1, input_shape=(8, 8, 1)), RandomZoom(0.1)] if aug else []
    )
    head = [Conv2D(2, 3, activation="relu"), Flatten(), Dense(3, activation="softmax")]
    if not aug:
        head[0] = Conv2D(2, 3, activation="relu", input_shape=(8, 8, 1))
    m = Sequential(layers + head, seed=seed)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def data():
    rng = np.random.default_rng(0)
    return rng.random((24, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 24)


def test_identity_in_predict_and_evaluate():
    x, y = data()
    with_aug, plain = cnn(aug=True), cnn(aug=False)
    with_aug.build((8, 8, 1))
    plain.build((8, 8, 1))
    plain.set_weights(with_aug.get_weights())
    np.testing.assert_array_equal(with_aug.predict(x, verbose=0), plain.predict(x, verbose=0))
    a = with_aug.evaluate(x, y, verbose=0, return_dict=True)
    b = plain.evaluate(x, y, verbose=0, return_dict=True)
    assert a == b


def test_fit_is_reproducible_and_leaves_the_data_alone():
    x, y = data()
    x0 = x.copy()
    runs = []
    for _ in range(2):
        m = cnn(seed=9)
        m.fit(x, y, epochs=2, batch_size=8, verbose=0)
        runs.append(m.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, x0)
    m = cnn(seed=10)
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(runs[0], m.get_weights()))


def test_augmentation_changes_what_training_sees():
    x, y = data()
    a, b = cnn(seed=9, aug=True), cnn(seed=9, aug=False)
    a.build((8, 8, 1))
    b.build((8, 8, 1))
    b.set_weights(a.get_weights())
    a.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    b.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert not np.allclose(a.get_weights()[0], b.get_weights()[0])


def test_save_and_load_keep_the_layers(tmp_path):
    m = Sequential(
        [
            RandomFlip("horizontal", seed=3, input_shape=(6, 6, 1)),
            RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=0.5),
            RandomZoom(0.2, (-0.1, 0.1), interpolation="nearest"),
            RandomTranslation(0.1, 0.2, fill_mode="wrap", seed=1),
            Flatten(),
            Dense(2),
        ],
        seed=0,
    )
    m.compile(optimizer="sgd", loss="mse")
    m.build()
    m.save(tmp_path / "m.netcore")
    back = load_model(tmp_path / "m.netcore")
    for a, b in zip(m.layers, back.layers):
        assert type(a) is type(b) and a.get_config() == b.get_config()


def test_a_model_refuses_augmentation_after_weights():
    with pytest.raises(ValueError, match=r"augmentation layers \['random_flip'\].*before"):
        Sequential([Conv2D(2, 3, input_shape=(6, 6, 1)), RandomFlip()], seed=0).build()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RandomRotation(1.5), r"factor must lie in \[-1.0, 1.0\].*Received: factor=1.5"),
        (lambda: RandomRotation((0.3, 0.1)), r"lower <= upper.*factor=\(0.3, 0.1\)"),
        (lambda: RandomRotation("big"), r"factor must be a number.*Received: factor='big'"),
        (lambda: RandomZoom(-1.2), r"height_factor must lie in"),
        (lambda: RandomZoom(0.1, (0.2, 2.0)), r"width_factor must lie in"),
        (lambda: RandomTranslation(0.1, 1.5), r"width_factor must lie in"),
        (lambda: RandomRotation(0.1, fill_mode="mirror"), r"fill_mode must be one of.*'mirror'"),
        (lambda: RandomZoom(0.1, interpolation="bicubic"), r"interpolation must be one of"),
        (lambda: RandomFlip("diagonal"), r"mode must be one of.*'diagonal'"),
        (lambda: RandomFlip(seed=-1), r"seed must be a non-negative integer.*seed=-1"),
        (lambda: RandomZoom(0.1, fill_value="x"), r"fill_value must be a number"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_images_of_the_wrong_rank_are_refused():
    with pytest.raises(ValueError, match=r"RandomRotation expects images.*x\[\.\.\., None\]"):
        Sequential([RandomRotation(0.1, input_shape=(28, 28)), Flatten()]).build()
    layer = built(RandomZoom(0.1), (6, 8, 2))
    with pytest.raises(ValueError, match=r"RandomZoom expects a batch of images.*\(6, 8, 2\)"):
        layer.forward(np.zeros((6, 8, 2)), training=True)


def test_unknown_modes_are_refused_by_the_backend_op(img):
    for be in (REF, CPU):
        with pytest.raises(ValueError, match="fill_mode must be one of"):
            be.affine_warp(img, rows(*[(1, 0, 0, 0, 1, 0)] * 2), "mirror")


def test_rotation_angle_is_two_pi_times_factor():
    layer = built(RandomRotation((0.125, 0.125)), (6, 8, 2))
    t = layer._transforms(1, 6, 8)
    np.testing.assert_allclose(t[0, [0, 3]], [math.cos(math.pi / 4), math.sin(math.pi / 4)])


def test_plot_augmented_shows_the_image_and_eight_versions(tmp_path):
    pytest.importorskip("matplotlib")
    from netcore.plotting import plot_augmented
    from netcore.preprocessing.image import ImageDataGenerator

    img = np.random.default_rng(0).random((12, 12))
    fig = plot_augmented(img, [RandomRotation(0.1), RandomZoom(0.2)])
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 9 and shown[0].get_title() == "original"
    np.testing.assert_allclose(shown[0].images[0].get_array(), img)
    assert not np.allclose(shown[1].images[0].get_array(), img)
    gen = ImageDataGenerator(rotation_range=20, horizontal_flip=True)
    path = plot_augmented(img[..., None], gen, tmp_path / "aug.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="augment must be an ImageDataGenerator"):
        plot_augmented(img, [Dense(3)])
    with pytest.raises(ValueError, match="image must be one numeric image"):
        plot_augmented(np.zeros((2, 4, 4, 1)), gen)
