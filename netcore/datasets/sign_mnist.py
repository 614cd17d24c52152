"""Sign Language MNIST: 28x28 grayscale photos of American Sign Language letters.

The data comes from Kaggle (https://www.kaggle.com/datasets/datamunge/sign-language-mnist,
CC0), which needs a free Kaggle account, so it is never downloaded here. Unzip it and
pass the folder holding ``sign_mnist_train.csv`` and ``sign_mnist_test.csv`` (the Kaggle
layout ``sign_mnist_train/sign_mnist_train.csv`` works too), or put the two files in
``$NETCORE_DATA/sign-mnist/`` or ``~/.cache/netcore/sign-mnist/`` and call ``load_data()``.

Two label formats exist, and both load as they are (labels are never renumbered):

* ``"kaggle"`` (:data:`KAGGLE`), Kaggle's CSVs: label ``k`` is the k-th letter of the
  alphabet, A=0 .. Y=24; 9 (J) never occurs, because J (like Z) needs motion to sign. The
  label space is 25 wide, so its ``num_classes`` (and this module's :data:`num_classes`) is 25.
* ``"course"`` (:data:`COURSE`), the course's own CSVs: the 24 letters that occur numbered
  0..23 contiguously (A=0 .. I=8, K=9 .. Y=23), so ``to_categorical(y, 24)`` works.

:func:`detect_label_format` tells them apart from the labels present: a 9 means the course's
format (Kaggle never has 9), a 24 means Kaggle's (the course's labels stop at 23), both at
once is an error, and neither means Kaggle's (labels 0..8 name the same letters in both, and a
file with labels above 9 but no 9 is Kaggle's layout with J skipped). The loaders detect the
format from every file they read together, or take ``label_format="kaggle"|"course"``.
The public CSVs have 27,455 training and 7,172 test rows.
"""

from __future__ import annotations

import os
import re
import string
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "detect_label_format",
    "LabelFormat",
    "KAGGLE",
    "COURSE",
    "LABEL_FORMATS",
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


@dataclass(frozen=True)
class LabelFormat:
    """How a Sign-Language-MNIST file numbers its letters.

    ``name``: ``"kaggle"`` or ``"course"``. ``num_classes``: the width of the label space, the
    ``num_classes`` of ``to_categorical`` (25 or 24). ``class_names``: the letter of each label,
    ``class_names[k]`` for label ``k``. ``absent``: labels inside the space that never occur.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    absent: tuple[int, ...]


#: Kaggle's files: label k is the k-th letter (A=0 .. Y=24), 9 (J) never occurs.
KAGGLE = LabelFormat("kaggle", num_classes, LETTERS, ABSENT_LABELS)
#: The course's files: the 24 letters that occur, numbered 0..23 (A=0 .. I=8, K=9 .. Y=23).
COURSE = LabelFormat("course", 24, tuple(LETTERS[k] for k in PRESENT_LABELS), ())
#: The label formats by name, for ``label_format=...``.
LABEL_FORMATS: dict[str, LabelFormat] = {f.name: f for f in (KAGGLE, COURSE)}

_N_PIXELS = 28 * 28
_HEADER = ["label"] + [f"pixel{i}" for i in range(1, _N_PIXELS + 1)]
# A row of integers separated by commas, with optional spaces; checked only on the error path.
_INT_ROW = re.compile(rb"\s*[+-]?\d+\s*(?:,\s*[+-]?\d+\s*)*")


def label_to_letter(label: int, label_format: str | LabelFormat = "kaggle") -> str:
    """The letter of a label: Kaggle's format by default (0 -> "A", 24 -> "Y"; 9 -> "J", which
    never occurs in the data), the course's with ``label_format="course"`` (9 -> "K", 23 -> "Y")."""
    fmt = _format(label_format)
    k = int(label)
    if not 0 <= k < fmt.num_classes:
        raise ValueError(
            f"label must be in 0..{fmt.num_classes - 1} ({fmt.name} format), got {label}"
        )
    return fmt.class_names[k]


def _format(label_format: str | LabelFormat) -> LabelFormat:
    if isinstance(label_format, LabelFormat):
        return label_format
    if label_format not in LABEL_FORMATS:
        raise ValueError(
            f"label_format must be one of {', '.join(map(repr, LABEL_FORMATS))} or None, "
            f"received {label_format!r}"
        )
    return LABEL_FORMATS[label_format]


def detect_label_format(*labels: Any) -> LabelFormat:
    """The format of one or more arrays of labels read from the same data set (train and test
    together): :data:`COURSE` when a 9 occurs, else :data:`KAGGLE` (the rule of this module's
    docstring). Use its ``num_classes`` for ``to_categorical`` and its ``class_names`` for plots.

    Raises:
        ValueError: no labels, a label outside 0..24, or both 9 and 24 (neither format: Kaggle
            never has 9, the course's labels stop at 23).
    """
    arrays = [np.asarray(y).ravel() for y in labels]
    if not arrays or sum(a.size for a in arrays) == 0:
        raise ValueError("labels must hold at least one label, received none")
    present = np.unique(np.concatenate(arrays).astype(np.int64))
    if present[0] < 0 or present[-1] >= num_classes:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, received {present.tolist()}")
    has_9, has_24 = bool(np.any(present == 9)), bool(np.any(present == 24))
    if has_9 and has_24:
        raise ValueError(
            "labels hold both 9 and 24, which fits neither Sign-Language-MNIST format: "
            "Kaggle's (0..24) never has 9 (J), the course's (0..23) never has 24"
        )
    return COURSE if has_9 else KAGGLE


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


def read_csv(
    file: str | os.PathLike[str], label_format: str | LabelFormat | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one Sign-MNIST CSV into ``(x, y)``: uint8 arrays (N, 28, 28) and (N,), the labels
    as they are in the file.

    ``label_format``: ``"kaggle"`` (labels 0..24, never 9) or ``"course"`` (0..23), checked on
    every row; None accepts either (:func:`detect_label_format` on ``y`` says which).

    Raises DataFileError naming the file and the line number of the first problem: wrong
    header, wrong column count, non-integer cell, pixel outside 0..255, label outside
    0..24, or a label the format does not have (with None: a 9 and a 24 in one file).
    """
    fmt = None if label_format is None else _format(label_format)
    x, y = _read(Path(file))
    _check_labels(file, y, fmt)
    return x, y


def _check_labels(file: str | os.PathLike[str], y: np.ndarray, fmt: LabelFormat | None) -> None:
    """Raise DataFileError at the first line of ``file`` whose label ``fmt`` does not have
    (None: the first 9 and 24 when both occur, which fits neither format)."""
    y = np.asarray(y)
    if fmt is None:
        if np.any(y == 9) and np.any(y == 24):
            nine, last = (
                _line_of(file, int(np.argmax(y == 9))),
                _line_of(file, int(np.argmax(y == 24))),
            )
            raise DataFileError(
                f"{file}: label 9 (line {nine}) and label 24 (line {last}) in one file fit "
                "neither Sign-Language-MNIST format: Kaggle's (0..24) never has 9 (J), the "
                "course's (0..23) never has 24"
            )
        return
    bad = (y >= fmt.num_classes) | np.isin(y, fmt.absent)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataFileError(
            f"{file}, line {_line_of(file, row)}: label {int(y[row])} is not in the "
            f"{fmt.name} format (labels 0..{fmt.num_classes - 1}"
            + (f", never {', '.join(map(str, fmt.absent))}" if fmt.absent else "")
            + ")"
        )


def _line_of(file: str | os.PathLike[str], row: int) -> int:
    """The line number of data row ``row`` (0-based, blank lines skipped) of ``file``."""
    for k, (lineno, _) in enumerate(_data_lines(Path(file))):
        if k == row:
            return lineno
    raise IndexError(row)


def _read(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of one CSV, every cell checked; labels only against 0..24."""
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
    bad = (labels < 0) | (labels >= num_classes)
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
    if not 0 <= label < num_classes:
        raise DataFileError(
            f"{file}, line {lineno}: label {label} outside 0..24 (A..Y in Kaggle's "
            "format, 0..23 in the course's)"
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


def _common_format(
    read: list[tuple[Path, np.ndarray]], label_format: str | LabelFormat | None
) -> LabelFormat:
    """The one format of every file read from a data set, checked row by row."""
    if label_format is not None:
        fmt = _format(label_format)
    else:
        for file, y in read:
            _check_labels(file, y, None)
        try:
            fmt = detect_label_format(*(y for _, y in read))
        except ValueError:
            # Each file fits one format, but not the same one.
            (f9, y9), (f24, y24) = (
                next((f, y) for f, y in read if np.any(y == k)) for k in (9, 24)
            )
            raise DataFileError(
                f"{f9} uses the course's label format (label 9 on line "
                f"{_line_of(f9, int(np.argmax(y9 == 9)))}) but {f24} uses Kaggle's (label 24 on "
                f"line {_line_of(f24, int(np.argmax(y24 == 24)))}); put files of one format "
                "together"
            ) from None
    for file, y in read:
        _check_labels(file, y, fmt)
    return fmt


def load_train(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    label_format: str | LabelFormat | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``sign_mnist_train.csv`` as ``(x_train, y_train)``; arguments as :func:`load_data`."""
    return read_csv(find_files("train", path, download)[0], label_format)


def load_test(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    label_format: str | LabelFormat | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``sign_mnist_test.csv`` as ``(x_test, y_test)``; arguments as :func:`load_data`."""
    return read_csv(find_files("test", path, download)[0], label_format)


def search_dirs(path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders that would be searched, in order."""
    return [folder for _, folder in _locate.search_dirs(NAME, path)]


def load_data(
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    label_format: str | LabelFormat | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Sign Language MNIST as ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: folder holding ``sign_mnist_train.csv`` and ``sign_mnist_test.csv``
            (directly, in a ``sign-mnist/`` subfolder, or in Kaggle's layout). ``None``
            searches ``$NETCORE_DATA``, ``~/.cache/netcore/sign-mnist/`` and
            ``/usr/share/datasets/sign-mnist/``.
        download: accepted so that every loader has one signature; this data set needs a
            Kaggle account, so it is never downloaded (the error says where to get it).
        label_format: ``"kaggle"`` or ``"course"`` (see the module docstring); None detects
            it from both files' labels together and requires them to agree.

    Returns:
        uint8 arrays: x of shape (N, 28, 28), y of shape (N,) with the labels as in the files.
        ``detect_label_format(y_train, y_test)`` says which format they use: its
        ``num_classes`` is the ``to_categorical`` width (Kaggle's files: 25, J=9 never occurs;
        the course's: 24) and its ``class_names`` the letters.

    Raises:
        DatasetNotFoundError: the CSVs are not there (with how to get them from Kaggle).
        DataFileError: a malformed CSV, or labels of neither format or of two different
            ones; the message names the file and line.
    """
    files = [find_files(split, path, download)[0] for split in ("train", "test")]
    (x, y), (xt, yt) = (_read(f) for f in files)
    _common_format([(files[0], y), (files[1], yt)], label_format)
    return (x, y), (xt, yt)
