"""The course MLP on real data: the MNIST test set shipped with netcore (always there), and the
full Fashion-MNIST where Debian's package installed it (skipped with a reason elsewhere)."""

from pathlib import Path

import pytest

from netcore.layers import Dense, Flatten
from netcore.models import Sequential
from netcore.utils import to_categorical

FASHION = Path("/usr/share/datasets/fashion-mnist")


def course_mlp(seed=0):
    return Sequential(
        [
            Flatten(input_shape=(28, 28)),
            Dense(512, activation="relu"),
            Dense(512, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        backend="cpu",
        seed=seed,
    )


@pytest.mark.slow
def test_course_mlp_on_the_shipped_mnist_test_set_reaches_93_percent():
    from netcore.datasets import mnist

    (x, y), (x_val, y_val) = mnist.load_bundled()
    assert len(x) == 8000 and len(x_val) == 2000
    model = course_mlp()
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])  # rmsprop default
    h = model.fit(
        x / 255,
        to_categorical(y, 10),
        epochs=3,
        batch_size=32,
        verbose=0,
        validation_data=(x_val / 255, to_categorical(y_val, 10)),
    )
    assert h.history["val_accuracy"][-1] >= 0.93, h.history


@pytest.mark.slow
@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST is not installed at {FASHION} (apt-get install dataset-fashion-mnist)",
)
def test_course_mlp_on_full_fashion_mnist_reaches_85_percent():
    from netcore.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data(path=FASHION, download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    model = course_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x / 255, y, epochs=2, batch_size=128, verbose=0)
    _, accuracy = model.evaluate(xt / 255, yt)
    assert accuracy >= 0.85
