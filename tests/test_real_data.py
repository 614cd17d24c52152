"""The course MLP on real data (slow; skipped with a reason where the data is absent)."""
from pathlib import Path

import pytest

from netcore.layers import Dense, Flatten
from netcore.models import Sequential
from netcore.utils import to_categorical

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
FASHION = Path("/usr/share/datasets/fashion-mnist")


def course_mlp(seed=0):
    return Sequential([Flatten(input_shape=(28, 28)),
                       Dense(512, activation="relu"),
                       Dense(512, activation="relu"),
                       Dense(10, activation="softmax")], backend="cpu", seed=seed)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                    reason=f"the MNIST test set is not at {SHARED_MNIST}")
def test_course_mlp_on_mnist_test_set_reaches_93_percent():
    from netcore.datasets import mnist

    x, y = mnist.load_test(path=SHARED_MNIST)
    x = x / 255  # float64 here; the model casts once to float32
    y = to_categorical(y, 10)
    model = course_mlp()
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])  # rmsprop default
    h = model.fit(x[:8000], y[:8000], epochs=3, batch_size=32, verbose=0,
                  validation_data=(x[8000:], y[8000:]))
    assert h.history["val_accuracy"][-1] >= 0.93, h.history


@pytest.mark.slow
@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"Fashion-MNIST is not installed at {FASHION} (apt-get install dataset-fashion-mnist)")
def test_course_mlp_on_full_fashion_mnist_reaches_85_percent():
    from netcore.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data(path=FASHION, download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    model = course_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x / 255, y, epochs=2, batch_size=128, verbose=0)
    assert model.evaluate(xt / 255, yt)["accuracy"] >= 0.85
