"""The Fashion-MNIST dataset of Zalando article images (Xiao, Rasul, Vollgraf; MIT licence).

>>> from netcore.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()   # doctest: +SKIP
>>> x_test, y_test = fashion_mnist.load_test()                          # doctest: +SKIP

Arrays are uint8: images (N, 28, 28) with values 0-255, labels (N,) with values 0-9
(names in :data:`CLASS_NAMES`); 60,000 training and 10,000 test images, as in
``keras.datasets.fashion_mnist``.

Files are looked for in ``$NETCORE_DATA/fashion-mnist/``, ``$NETCORE_DATA/``,
``~/.cache/netcore/fashion-mnist/`` and ``/usr/share/datasets/fashion-mnist/`` (Debian's
``dataset-fashion-mnist`` package installs the four gzipped files there), then downloaded into
the cache (see :mod:`netcore.datasets`). Pass ``path=`` to use (and download into) one folder only.
"""

from __future__ import annotations

from ._idx_dataset import IdxDataset, public_api

__all__ = [
    "load_data",
    "load_test",
    "load_train",
    "find_files",
    "search_dirs",
    "num_classes",
    "CLASS_NAMES",
    "NAME",
]

NAME = "fashion-mnist"
num_classes = 10
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_DATASET = IdxDataset(
    name=NAME,
    title="Fashion-MNIST",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        # The project's own copy on GitHub: the same archives (same SHA-256).
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    # SHA-256 of the canonical archives, as listed in tensorflow/datasets'
    # url_checksums/fashion_mnist.txt. Plain HTTP on the first mirror is safe because of them.
    archive_sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    num_classes=num_classes,
    class_names=CLASS_NAMES,
)


load_data, load_test, load_train, find_files, search_dirs = public_api(_DATASET)
