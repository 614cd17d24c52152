"""The MNIST handwritten-digit dataset (LeCun, Cortes, Burges; CC BY-SA 3.0).

>>> from netcore.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP
>>> x_test, y_test = mnist.load_test()                          # doctest: +SKIP
>>> (x_train, y_train), (x_val, y_val) = mnist.load_bundled()   # no download: shipped
>>> x_train.shape, x_val.shape
((8000, 28, 28), (2000, 28, 28))

Arrays are uint8: images (N, 28, 28) with values 0-255, labels (N,) with values 0-9;
60,000 training and 10,000 test images, as in ``keras.datasets.mnist``.

Files are looked for in ``$NETCORE_DATA/mnist/``, ``$NETCORE_DATA/``, ``~/.cache/netcore/mnist/``
and ``/usr/share/datasets/mnist/``, then downloaded into the cache (see
:mod:`netcore.datasets`). Pass ``path=`` to use (and download into) one folder only.

The 10,000-image test set also ships inside the package (``netcore/datasets/data/mnist/``,
CC BY-SA 3.0, see its README): :func:`load_bundled` and :func:`load_bundled_test` read it with
no search and no download. :func:`load_data` never falls back to it: it means the full
60,000/10,000 set, found or downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ._idx_dataset import SPLIT_FILES, IdxDataset, content_sha256, public_api
from .errors import DataFileError

__all__ = [
    "load_data",
    "load_test",
    "load_train",
    "load_bundled",
    "load_bundled_test",
    "bundled_dir",
    "find_files",
    "search_dirs",
    "num_classes",
    "CLASS_NAMES",
    "NAME",
    "BUNDLED_SHA256",
]

NAME = "mnist"
num_classes = 10
CLASS_NAMES: tuple[str, ...] = tuple(str(d) for d in range(10))

_DATASET = IdxDataset(
    name=NAME,
    title="MNIST",
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    # SHA-256 of the canonical archives, as listed in tensorflow/datasets'
    # url_checksums/mnist.txt (the same archives are served by both mirrors).
    archive_sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    num_classes=num_classes,
    class_names=CLASS_NAMES,
    bundled=True,
)

#: SHA-256 of the decompressed bytes of the shipped test-set files (as the IDX stems).
BUNDLED_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: Every ``_VAL_EVERY``-th image of the shipped test set is held out by :func:`load_bundled`.
_VAL_EVERY = 5


load_data, load_test, load_train, find_files, search_dirs = public_api(_DATASET)


def bundled_dir() -> Path:
    """The folder inside the installed package that holds the shipped MNIST test set."""
    return Path(str(resources.files("netcore.datasets") / "data" / "mnist"))


def load_bundled_test() -> tuple[np.ndarray, np.ndarray]:
    """The real MNIST test set shipped with netcore, as ``(x, y)``: uint8 (10000, 28, 28) and
    (10000,), in the file's order. No search, no download.

    Raises:
        DataFileError: a shipped file is missing or its content does not match
            :data:`BUNDLED_SHA256` (a damaged installation).
    """
    folder = bundled_dir()
    for stem in SPLIT_FILES["test"]:
        if not (folder / f"{stem}.gz").is_file():
            raise DataFileError(
                f"the MNIST test set shipped with netcore is missing: "
                f"{folder / (stem + '.gz')} not found; reinstall netcore"
            )
    x, y = _DATASET.load_split("test", folder, download=False)
    for stem, array in zip(SPLIT_FILES["test"], (x, y)):
        if content_sha256(array) != BUNDLED_SHA256[stem]:
            raise DataFileError(
                f"{folder / (stem + '.gz')}: content does not match its SHA-256 "
                f"{BUNDLED_SHA256[stem]}; the installation is damaged, "
                "reinstall netcore"
            )
    return x, y


def load_bundled() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The real MNIST test set shipped with netcore, split 8,000/2,000, with no download.

    Every fifth image (indices 4, 9, 14, ...) is held out for validation and the other
    8,000 are for training, each part in the file's order. The split is the same on every
    machine and NumPy version, and both parts draw on the whole file: its first 5,000
    images (cleaner writers) and its last 5,000 (harder ones).

    Returns:
        ``(x_train, y_train), (x_val, y_val)``: uint8 arrays, x of shape (N, 28, 28), y of
        shape (N,); N = 8,000 and 2,000.

    Raises:
        DataFileError: the shipped files are missing or damaged (see :func:`load_bundled_test`).
    """
    x, y = load_bundled_test()
    held_out = np.arange(len(x)) % _VAL_EVERY == _VAL_EVERY - 1
    return (x[~held_out], y[~held_out]), (x[held_out], y[held_out])
