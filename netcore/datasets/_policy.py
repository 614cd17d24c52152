"""Which files a training run uses: the one fallback policy, for Python and ``netcore train``.

:func:`load` takes a data set's name and an optional folder and returns a
:class:`TrainingData`, trying in order:

1. the training files (and the test files when present) in ``path``, or in the default
   folders of :mod:`netcore.datasets._locate` when ``path`` is None;
2. with no ``path``: a download of the full set into the cache (MNIST, Fashion-MNIST);
3. the test files alone, found in the same places: then training and validation both come
   from the test set (``from_test_set``);
4. with no ``path``, MNIST only: the test set shipped inside the package
   (:func:`netcore.datasets.mnist.load_bundled_test`).

Each fallback adds a one-line note saying what was used, so nothing is chosen silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import fashion_mnist, mnist, sign_mnist
from .errors import DatasetNotFoundError

__all__ = ["NAMES", "TrainingData", "get", "load"]

_MODULES: dict[str, ModuleType] = {
    "mnist": mnist,
    "fashion-mnist": fashion_mnist,
    "sign-mnist": sign_mnist,
}
#: The data set names :func:`get` and :func:`load` accept.
NAMES: tuple[str, ...] = tuple(_MODULES)
_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "sign-mnist": "Sign Language MNIST"}
_NEED = {
    "idx": (
        "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz and/or "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or plain)"
    ),
    "sign-mnist": f"{sign_mnist.FILES['train']} and/or {sign_mnist.FILES['test']}",
}


def get(name: str) -> ModuleType:
    """The loader module of a data set: ``"mnist"``, ``"fashion-mnist"`` (or ``fashion_mnist``)
    or ``"sign-mnist"``. Every one has ``load_data``, ``load_train``, ``load_test``
    (``path=None, download=True``), ``find_files(split, path, download)``, ``search_dirs`` and
    ``num_classes``."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _MODULES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}, received {name!r}")
    return _MODULES[key]


@dataclass
class TrainingData:
    """What a training run uses; images uint8 (N, 28, 28), labels uint8 (N,).

    ``x_test``/``y_test`` are None when there is no separate test set. ``from_test_set``:
    the training images are the test set (only the test files were found, or the shipped
    copy is used), so the caller validates on a split of them. ``source``: ``"files"``,
    ``"download"`` or ``"bundled"``. ``notes``: one line each about any fallback taken.
    ``class_names``: the name of each label (Sign-Language-MNIST: the letters of the label
    format its files use, Kaggle's or the course's).
    """

    name: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    from_test_set: bool = False
    source: str = "files"
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.class_names:
            mod = get(self.name)
            self.class_names = tuple(getattr(mod, "CLASS_NAMES", None) or mod.LETTERS)

    @property
    def title(self) -> str:
        """The data set's name as written in prose (``"Fashion-MNIST"``)."""
        return _TITLES[self.name]


def _found(mod: ModuleType, split: str, path: str | os.PathLike[str] | None) -> Path | None:
    """The folder holding ``split``'s files (no download), or None."""
    try:
        return Path(mod.find_files(split, path, download=False)[0]).parent
    except DatasetNotFoundError:
        return None


def load(
    name: str,
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> TrainingData:
    """Load data set ``name`` for training, following the fallbacks of this module's docstring.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"sign-mnist"``.
        path: a folder holding the files (directly or in a ``<name>/`` subfolder); None
            searches the default folders.
        download: allow a download when ``path`` is None and nothing is found locally.

    Raises:
        ValueError: unknown ``name``.
        DatasetNotFoundError: ``path`` does not exist or holds none of the files; or, with no
            ``path``, nothing found, downloaded or shipped. The message says what is needed.
        DataFileError: a file is corrupt (the message names it).
    """
    mod = get(name)
    key = mod.NAME
    title = _TITLES[key]
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.exists():
            raise DatasetNotFoundError(f"data folder {folder} does not exist")
        if not folder.is_dir():
            raise DatasetNotFoundError(f"data folder {folder} is a file, not a folder")
    notes: list[str] = []
    n = int(mod.num_classes)
    train_dir, test_dir = _found(mod, "train", path), _found(mod, "test", path)
    if train_dir is not None:
        if test_dir is None:
            x, y = mod.load_train(path, download=False)
            notes.append(f"no {title} test files found: no test accuracy will be reported")
            return _labelled(TrainingData(key, n, x, y, notes=notes))
        # load_data, not load_train + load_test: Sign-MNIST's two files must share a format.
        (x, y), (xt, yt) = mod.load_data(path, download=False)
        return _labelled(TrainingData(key, n, x, y, xt, yt, notes=notes))
    failure = ""
    if path is None and download and key != "sign-mnist":
        try:
            (x, y), (xt, yt) = mod.load_data(None, download=True)
            return TrainingData(key, n, x, y, xt, yt, notes=notes, source="download")
        except DatasetNotFoundError as exc:
            failure = _download_failure(str(exc))
    if test_dir is not None:
        x, y = mod.load_test(path, download=False)
        notes.append(
            f"only the {title} TEST set ({len(x):,} images) was found in {test_dir}: "
            "training and validating on a split of it"
        )
        return _labelled(TrainingData(key, n, x, y, notes=notes, from_test_set=True))
    if path is None and key == "mnist":
        x, y = mnist.load_bundled_test()
        notes.append(
            "no MNIST files found"
            + (f" ({failure})" if failure else "")
            + f": using the MNIST test set shipped with netcore ({len(x):,} images, "
            "no download)"
        )
        return TrainingData(key, n, x, y, notes=notes, from_test_set=True, source="bundled")
    raise DatasetNotFoundError(_not_found(key, path, failure))


def _labelled(data: TrainingData) -> TrainingData:
    """Sign-Language-MNIST: ``num_classes`` and ``class_names`` of the label format its files
    use, with a note saying which; other data sets unchanged."""
    if data.name != "sign-mnist":
        return data
    fmt = sign_mnist.detect_label_format(*(y for y in (data.y_train, data.y_test) if y is not None))
    data.num_classes, data.class_names = fmt.num_classes, fmt.class_names
    if fmt is sign_mnist.COURSE:
        data.notes.insert(0, "the course's label format: 24 output units, letters A-Y as 0-23")
    else:
        # J (9) keeps its slot so that an output unit's index is its letter's place in the
        # alphabet.
        data.notes.insert(
            0,
            f"Kaggle's label format: {fmt.num_classes} output units for the letters A-Y; "
            "J (label 9) needs motion, has no images and is never the answer",
        )
    return data


def _download_failure(message: str) -> str:
    """The first mirror's failure from a loader's not-found message, for a one-line note."""
    fails = [ln.strip(" -") for ln in message.splitlines() if ln.strip().startswith("- ")]
    return f"download failed: {fails[0]}" if fails else "download failed"


def _not_found(key: str, path: Any, failure: str) -> str:
    title = _TITLES[key]
    need = _NEED["sign-mnist" if key == "sign-mnist" else "idx"]
    if path is not None:
        text = f"{title} not found in {Path(path).expanduser()}: need {need}"
    else:
        text = (
            f"{title} not found in $NETCORE_DATA, ~/.cache/netcore or /usr/share/datasets"
            + (f"; {failure}" if failure else "")
            + f"\nPass the folder holding {need} (--data FOLDER, or path=FOLDER in Python)"
        )
    if key == "sign-mnist":
        text += (
            "\nSign Language MNIST needs a free Kaggle account: "
            "https://www.kaggle.com/datasets/datamunge/sign-language-mnist"
        )
    return text
