"""Datasets with a Keras-like API: ``mnist``, ``fashion_mnist`` and ``sign_mnist``.

>>> from netcore.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP

MNIST and Fashion-MNIST are read from IDX files (gzipped or plain), searched for in
``$NETCORE_DATA/<name>/``, ``$NETCORE_DATA/``, ``~/.cache/netcore/<name>/`` (or
``$XDG_CACHE_HOME/netcore/<name>/``) and ``/usr/share/datasets/<name>/``, with ``<name>`` =
``mnist`` or ``fashion-mnist``; when missing they are downloaded into the cache and verified
against the SHA-256 of the canonical archives. Every file is validated (magic number,
dimensions, exact length), so a corrupt file raises :class:`DataFileError` naming it instead
of giving a silently wrong array.

Every loader module has the same functions with the same signature: ``load_data``,
``load_train`` and ``load_test`` (``path=None, download=True``), ``find_files(split, path,
download)`` and ``search_dirs(path)``. :func:`get` maps a name to its module; :func:`load` is
the one fallback policy (files, download, test set alone, the shipped MNIST test set) behind
``netcore train``. ``mnist.load_bundled()`` reads the real MNIST test set that ships inside the
package, split 8,000/2,000, with no download.
"""

from __future__ import annotations

from . import fashion_mnist, mnist, sign_mnist
from ._policy import NAMES, TrainingData, get, load
from .errors import DataFileError, DatasetError, DatasetNotFoundError
from .idx import read_idx

__all__ = [
    "mnist",
    "fashion_mnist",
    "sign_mnist",
    "read_idx",
    "get",
    "load",
    "NAMES",
    "TrainingData",
    "DatasetError",
    "DataFileError",
    "DatasetNotFoundError",
]
