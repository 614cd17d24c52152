"""The MNIST handwritten-digit dataset (LeCun, Cortes, Burges; CC BY-SA 3.0).

>>> from netcore.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP
>>> x_test, y_test = mnist.load_test()                          # doctest: +SKIP

Arrays are uint8: images (N, 28, 28) with values 0-255, labels (N,) with values 0-9;
60,000 training and 10,000 test images, as in ``keras.datasets.mnist``.

Files are looked for in ``$NETCORE_DATA/mnist/``, ``$NETCORE_DATA/``, ``~/.cache/netcore/mnist/``
and ``/usr/share/datasets/mnist/``, then downloaded into the cache (see
:mod:`netcore.datasets`). Pass ``path=`` to use (and download into) one folder only.
"""
from __future__ import annotations



from ._idx_dataset import IdxDataset, public_api

__all__ = ["load_data", "load_test", "load_train", "find_files", "search_dirs",
           "num_classes", "CLASS_NAMES", "NAME"]

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
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    num_classes=num_classes,
    class_names=CLASS_NAMES,
)


load_data, load_test, load_train, find_files, search_dirs = public_api(_DATASET)
