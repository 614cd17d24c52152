"""Sign Language MNIST: 28x28 grayscale photos of American Sign Language letters.

The data comes from Kaggle (https://www.kaggle.com/datasets/datamunge/sign-language-mnist,
CC0), which needs a free Kaggle account, so it is never downloaded here. Unzip it and
pass the folder holding ``sign_mnist_train.csv`` and ``sign_mnist_test.csv`` (the Kaggle
layout ``sign_mnist_train/sign_mnist_train.csv`` works too), or put the two files in
``$NETCORE_DATA/sign-mnist/`` or ``~/.cache/netcore/sign-mnist/`` and call ``load_data()``.

Labels keep their letter meaning: label ``k`` is the k-th letter of the alphabet, A=0.
The label space is 25 wide (0..24, A..Y) so :data:`num_classes` is 25, but only 24
classes occur: 9 (J) is never present, because J (like Z) needs motion to sign.
The public CSVs have 27,455 training and 7,172 test rows.
"""

from __future__ import annotations

import os
import re
import string
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import _locate
from .errors import DataFileError, DatasetNotFoundError

__all__ = [
    "load_data",
    "load_test",
    "load_train",
    "read_csv",
    "find_files",
    "search_dirs",
    "label_to_letter",
    "LETTERS",
    "ABSENT_LABELS",
    "PRESENT_LABELS",
    "num_classes",
    "NAME",
    "FILES",
]

NAME = "sign-mnist"
FILES = {"train": "sign_mnist_train.csv", "test": "sign_mnist_test.csv"}
#: Letter of each label: LETTERS[k] is label k's letter ("A".."Y").
LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase[:25])
#: Width of the label space: labels are 0..24.
num_classes = 25
#: Labels that never occur: 9 is J, which needs motion.
ABSENT_LABELS: tuple[int, ...] = (9,)
#: The 24 labels that occur.
PRESENT_LABELS: tuple[int, ...] = tuple(k for k in range(num_classes) if k not in ABSENT_LABELS)

_N_PIXELS = 28 * 28
_HEADER = ["label"] + [f"pixel{i}" for i in range(1, _N_PIXELS + 1)]
# A row of integers separated by commas, with optional spaces; checked only on the error path.
_INT_ROW = re.compile(rb"\s*[+-]?\d+\s*(?:,\s*[+-]?\d+\s*)*")


def label_to_letter(label: int) -> str:
    """The letter of a label (0 -> "A", 24 -> "Y"; 9 -> "J", which never occurs in the data)."""
    k = int(label)
    if not 0 <= k < num_classes:
        raise ValueError(f"label must be in 0..{num_classes - 1}, got {label}")
    return LETTERS[k]


def _kaggle_hint(folder_text: str) -> str:
    return (
        "Sign Language MNIST is on Kaggle and needs a (free) Kaggle account to download: "
        "https://www.kaggle.com/datasets/datamunge/sign-language-mnist . Unzip it and "
        f"put sign_mnist_train.csv and sign_mnist_test.csv in {folder_text}, "
        "or pass load_data(path=<folder holding them>)."
    )


def _spellings(split: str) -> tuple[str, ...]:
    # Kaggle's zip holds each file both at the top and in a same-named folder.
    name = FILES[split]
    return (name, f"{name.removesuffix('.csv')}/{name}")


def find_files(
    split: str = "test",
    path: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> tuple[Path]:
    """Locate the CSV file of ``split`` (``"train"`` or ``"test"``) as a 1-tuple.

    The same signature as ``mnist.find_files``; ``download`` is accepted for that reason, but
    the data needs a Kaggle account, so nothing is ever downloaded. Raises
    DatasetNotFoundError naming the folders searched and how to get the data.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', received {split!r}")
    found = _locate.search(NAME, [_spellings(split)], path)
    if found.found is not None:
        return (found.found[0],)
    where = (
        f"{Path(path).expanduser()}"
        if path is not None
        else f"{_locate.cache_root() / NAME} (or $NETCORE_DATA/{NAME}/)"
    )
    raise DatasetNotFoundError(
        f"Sign Language MNIST {split} set not found: need "
        f"{FILES[split]}. Searched, in order:\n"
        + "\n".join(f"  {line}" for line in found.searched)
        + "\n"
        + _kaggle_hint(where)
    )


def read_csv(file: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one Sign-MNIST CSV into ``(x, y)``: uint8 arrays (N, 28, 28) and (N,).

    Raises DataFileError naming the file and the line number of the first problem: wrong
    header, wrong column count, non-integer cell, pixel outside 0..255, label outside
    0..24 or equal to 9.
    """
    file = Path(file)
    with open(file, "rb") as f:
        header = f.readline().decode("utf-8", "replace").lstrip("\ufeff").strip()
    if [h.strip() for h in header.split(",")] != _HEADER:
        shown = header if len(header) < 60 else header[:57] + "..."
        raise DataFileError(
            f"{file}, line 1: expected the header 'label,pixel1,...,pixel784' "
            f"(785 columns), got {shown!r}"
        )
    try:
        # numpy's C parser: 27k x 785 cells in about a second. Warnings become errors so that
        # nothing is silently coerced; any failure is re-diagnosed line by line below.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            data = np.loadtxt(
                file, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2, comments=None
            )
    except (ValueError, Warning) as exc:
        _diagnose(file, exc)
        raise  # _diagnose always raises; kept for type checkers
    if data.shape[0] == 0:
        raise DataFileError(f"{file}: no data rows after the header")
    if data.shape[1] != len(_HEADER):
        _diagnose(file, None, bad_row=0)
    labels, pixels = data[:, 0], data[:, 1:]
    bad = (labels < 0) | (labels >= num_classes) | np.isin(labels, ABSENT_LABELS)
    bad |= ((pixels < 0) | (pixels > 255)).any(axis=1)
    if bad.any():
        _diagnose(file, None, bad_row=int(np.argmax(bad)))
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def _data_lines(file: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` for each non-blank data line (the fast path skips blanks)."""
    with open(file, "rb") as f:
        next(f)  # header, checked already
        for lineno, line in enumerate(f, start=2):
            if line.strip():
                yield lineno, line


def _check_structure(file: Path, lineno: int, line: bytes) -> list[bytes]:
    cells = line.split(b",")
    if len(cells) != len(_HEADER):
        raise DataFileError(
            f"{file}, line {lineno}: {len(cells)} columns, expected "
            f"{len(_HEADER)} (label + 784 pixels)"
        )
    if not _INT_ROW.fullmatch(line.rstrip(b"\r\n")):
        col = next(i for i, c in enumerate(cells) if not _INT_ROW.fullmatch(c.strip()))
        shown = cells[col].strip().decode(errors="replace")
        raise DataFileError(
            f"{file}, line {lineno}, column {col + 1} ({_HEADER[col]}): {shown!r} is not an integer"
        )
    return cells


def _check_values(file: Path, lineno: int, cells: list[bytes]) -> None:
    values = [int(c) for c in cells]
    label = values[0]
    if not 0 <= label < num_classes or label in ABSENT_LABELS:
        raise DataFileError(
            f"{file}, line {lineno}: label {label} outside 0..24 or "
            "equal to 9 (J, which the dataset never contains)"
        )
    for col, v in enumerate(values[1:], start=1):
        if not 0 <= v <= 255:
            raise DataFileError(
                f"{file}, line {lineno}, column {col + 1} "
                f"({_HEADER[col]}): pixel {v} outside 0..255"
            )


def _diagnose(file: Path, cause: BaseException | None, bad_row: int | None = None) -> None:
    """Find the first bad line of ``file`` and raise DataFileError about it.

    Runs only after the fast path failed, so it may be slower; ``bad_row`` (0-based data row)
    jumps straight to a row the vectorised checks already flagged.
    """
    rows = 0
    # Structure first over the whole file (cheap regex), values only where needed (int()).
    for row, (lineno, line) in enumerate(_data_lines(file)):
        rows += 1
        if bad_row is not None and row < bad_row:
            continue
        cells = _check_structure(file, lineno, line)
        if bad_row is not None:
            _check_values(file, lineno, cells)
    if rows == 0:
        raise DataFileError(f"{file}: no data rows after the header")
    for lineno, line in _data_lines(file):
        _check_values(file, lineno, line.split(b","))
    raise DataFileError(f"{file}: could not be parsed ({cause})") from cause


def load_train(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``sign_mnist_train.csv`` as ``(x_train, y_train)``; arguments as :func:`load_data`."""
    return read_csv(find_files("train", path, download)[0])


def load_test(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``sign_mnist_test.csv`` as ``(x_test, y_test)``; arguments as :func:`load_data`."""
    return read_csv(find_files("test", path, download)[0])


def search_dirs(path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders that would be searched, in order."""
    return [folder for _, folder in _locate.search_dirs(NAME, path)]


def load_data(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Sign Language MNIST as ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: folder holding ``sign_mnist_train.csv`` and ``sign_mnist_test.csv``
            (directly, in a ``sign-mnist/`` subfolder, or in Kaggle's layout). ``None``
            searches ``$NETCORE_DATA``, ``~/.cache/netcore/sign-mnist/`` and
            ``/usr/share/datasets/sign-mnist/``.
        download: accepted so that every loader has one signature; this data set needs a
            Kaggle account, so it is never downloaded (the error says where to get it).

    Returns:
        uint8 arrays: x of shape (N, 28, 28), y of shape (N,) with letter labels 0..24
        (A=0; 9=J never occurs; :func:`label_to_letter` converts). One-hot encode with
        ``to_categorical(y, sign_mnist.num_classes)`` (25, not 24).

    Raises:
        DatasetNotFoundError: the CSVs are not there (with how to get them from Kaggle).
        DataFileError: a malformed CSV; the message names the file and line.
    """
    return load_train(path, download), load_test(path, download)
