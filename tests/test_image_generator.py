"""ImageDataGenerator and its NumpyArrayIterator: the legacy transform semantics (checked on
the maps and on images), batches covering each pass exactly once with labels aligned,
reproducibility under a seed, featurewise statistics, the course notebook's use, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from netcore.layers import Dense, Flatten
from netcore.models import Sequential
from netcore.preprocessing.image import ImageDataGenerator, NumpyArrayIterator


def images(n=10, h=6, w=7, c=1, seed=0):
    return np.random.default_rng(seed).random((n, h, w, c)).astype(np.float32)


def test_identity_generator_returns_the_images_in_pass_order():
    x = images()
    y = np.arange(len(x))
    it = ImageDataGenerator().flow(x, y, batch_size=4, seed=1)
    assert isinstance(it, NumpyArrayIterator) and len(it) == 3
    seen = []
    for i in range(len(it)):
        xb, yb = it[i]
        assert xb.dtype == np.float32 and xb.shape[1:] == x.shape[1:]
        np.testing.assert_allclose(xb, x[yb])  # the labels travel with their images
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(10)) and seen != list(range(10))  # shuffled, complete


def test_flips_are_each_image_or_its_mirror():
    x = images(40)
    xb, yb = ImageDataGenerator(horizontal_flip=True).flow(x, np.arange(40), 40, seed=2)[0]
    mirrored = [np.array_equal(xb[i], x[yb[i]][:, ::-1]) for i in range(40)]
    same = [np.array_equal(xb[i], x[yb[i]]) for i in range(40)]
    assert all(m or s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)


def test_integer_shifts_are_whole_pixels_with_random_sign():
    """width_shift_range=2 (an int): a shift of -1, 0 or +1 columns; wrap = np.roll."""
    x = images(30, seed=3)
    gen = ImageDataGenerator(width_shift_range=2, fill_mode="wrap")
    xb, yb = gen.flow(x, np.arange(30), 30, seed=4)[0]
    shifts = []
    for i in range(30):
        hit = [s for s in (-1, 0, 1) if np.allclose(xb[i], np.roll(x[yb[i]], s, axis=1))]
        assert hit, f"image {i} is not a whole-column shift"
        shifts.append(hit[0])
    assert set(shifts) == {-1, 0, 1}


def test_fractional_shift_zoom_and_rotation_maps():
    gen = ImageDataGenerator(zoom_range=0.2)
    t = gen.random_transforms((500, 9, 11, 1), np.random.default_rng(0))
    zx, zy = t[:, 0], t[:, 4]
    assert 0.8 <= zx.min() and zx.max() <= 1.2 and not np.allclose(zx, zy)  # drawn apart
    np.testing.assert_allclose(t[:, [1, 3]], 0.0)
    np.testing.assert_allclose(t[:, 2], 5.0 * (1 - zx))  # about the centre (w-1)/2 = 5
    t = ImageDataGenerator(height_shift_range=0.25).random_transforms(
        (500, 8, 8, 1), np.random.default_rng(1)
    )
    assert np.abs(t[:, 5]).max() <= 2.0 and np.abs(t[:, 5]).max() > 1.8  # 0.25 * 8 rows
    t = ImageDataGenerator(rotation_range=30).random_transforms(
        (500, 5, 5, 1), np.random.default_rng(2)
    )
    angle = np.degrees(np.arctan2(t[:, 3], t[:, 0]))
    assert np.abs(angle).max() <= 30 and np.abs(angle).max() > 28
    centre = t[:, [0, 1]] @ [2.0, 2.0] + t[:, 2]
    np.testing.assert_allclose(centre, 2.0)  # the centre stays put


class UpperBound:
    """A generator whose every uniform draw is the top of its range (no flips)."""

    def uniform(self, lo, hi, size):
        return np.broadcast_to(np.float64(hi), size).copy()

    def random(self, n):
        return np.ones(n)


def test_rotation_range_90_at_its_top_is_a_counter_clockwise_quarter_turn():
    x = images(1, 5, 5, seed=5)
    gen = ImageDataGenerator(rotation_range=90, interpolation_order=0)
    t = gen.random_transforms(x.shape, UpperBound())  # type: ignore[arg-type]
    np.testing.assert_allclose(gen.apply(x, t)[0], np.rot90(x[0], 1), atol=1e-6)


def test_seeded_flow_repeats_and_passes_differ_and_data_is_untouched():
    x = images(12)
    x0 = x.copy()
    gen = ImageDataGenerator(rotation_range=20, zoom_range=0.1, width_shift_range=0.1)
    a, b = gen.flow(x, batch_size=5, seed=7), gen.flow(x, batch_size=5, seed=7)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], a[0])  # a batch depends on (seed, pass, index) only
    first = a[0].copy()
    a.on_epoch_end()
    assert not np.array_equal(a[0], first)
    np.testing.assert_array_equal(x, x0)


def test_next_walks_passes_forever():
    it = ImageDataGenerator().flow(images(5), np.arange(5), batch_size=2, shuffle=False)
    sizes = [len(next(it)[1]) for _ in range(7)]
    assert sizes == [2, 2, 1, 2, 2, 1, 2] and it.epoch == 2


def test_featurewise_statistics_from_fit():
    x = images(20, c=3) * 4 + 1
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    with pytest.raises(RuntimeError, match="call fit"):
        gen.flow(x, batch_size=20)[0]
    gen.fit(x)
    assert gen.mean is not None
    np.testing.assert_allclose(gen.mean, x.mean(axis=(0, 1, 2)), rtol=1e-5)
    out = gen.flow(x, batch_size=20)[0]
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, rtol=1e-4)


def test_rescale_and_sample_weight():
    x = images(4) * 255
    xb, yb, wb = ImageDataGenerator(rescale=1 / 255).flow(
        x, np.arange(4), 4, sample_weight=np.arange(4.0) + 1, seed=0
    )[0]
    np.testing.assert_allclose(xb, x[yb] / 255, rtol=1e-6)
    np.testing.assert_allclose(wb, yb + 1.0)


def test_course_notebook_pipeline_trains():
    """The issue's notebook: fit(x_train), flow(x, y, batch_size=32); train on its batches."""
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 64)
    datagen = ImageDataGenerator(
        rotation_range=10,
        zoom_range=0.1,
        width_shift_range=0.1,
        height_shift_range=0.1,
        horizontal_flip=True,
        vertical_flip=False,
    )
    datagen.fit(x)
    img_iter = datagen.flow(x, y, batch_size=32)
    model = Sequential([Flatten(input_shape=(8, 8, 1)), Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    w0 = model.get_weights()[0].copy()
    for _ in range(4):
        model.train_on_batch(*next(img_iter))
    assert not np.allclose(model.get_weights()[0], w0)
    hist = model.fit(
        img_iter, epochs=2, steps_per_epoch=len(x) / 32, validation_data=(x, y), verbose=0
    )
    assert len(hist.history["val_loss"]) == 2 and img_iter.epoch >= 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"fill_mode": "mirror"}, ValueError, r"fill_mode must be one of.*'mirror'"),
        ({"zoom_range": -0.1}, ValueError, r"zoom_range must be.*zoom_range=-0.1"),
        ({"zoom_range": [1.2, 0.8]}, ValueError, r"zoom_range must be"),
        ({"rotation_range": "ten"}, ValueError, r"rotation_range must be a number"),
        ({"width_shift_range": -0.5}, ValueError, r"width_shift_range must be"),
        ({"interpolation_order": 3}, ValueError, r"interpolation_order must be 0"),
        ({"zca_whitening": True}, NotImplementedError, r"does not support zca_whitening"),
        ({"bogus": 1}, TypeError, r"unexpected argument 'bogus'"),
    ],
)
def test_bad_generator_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        ImageDataGenerator(**kwargs)


def test_bad_flow_input_is_named():
    gen = ImageDataGenerator()
    with pytest.raises(ValueError, match=r"x must be a numeric 4-D array.*x\[\.\.\., None\]"):
        gen.flow(np.zeros((4, 6, 6)))
    with pytest.raises(ValueError, match=r"len\(x\)=4, len\(y\)=3"):
        gen.flow(np.zeros((4, 6, 6, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        gen.flow(np.zeros((4, 6, 6, 1)), batch_size=0)
    with pytest.raises(IndexError, match=r"batch index must be in \[0, 1\)"):
        gen.flow(np.zeros((4, 6, 6, 1)))[1]
