"""Shared machinery behind :mod:`netcore.datasets.mnist` and :mod:`~.fashion_mnist`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _locate
from .errors import DataFileError, DatasetNotFoundError
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

Split = Literal["train", "test"]
# Canonical file stems; each may be stored gzipped (<stem>.gz) or plain (<stem>).
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_SHAPE = (28, 28)

# SHA-256 of the *decompressed* IDX bytes of files whose content we know, so that a file of
# one dataset found where another is expected (both use the same file names) is caught.
# Sources: the shared data README (MNIST test), the Debian dataset-fashion-mnist package
# (Fashion-MNIST, matching several independent published lists), and a public list of
# MNIST digests whose test-set entries match the README.
_KNOWN_CONTENT: dict[str, str] = {
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7": "MNIST test images",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2": "MNIST test labels",
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db": "MNIST train images",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5": "MNIST train labels",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b": "Fashion-MNIST test images",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34": "Fashion-MNIST test labels",
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888": "Fashion-MNIST train images",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9": "Fashion-MNIST train labels",
}


def spellings(stem: str) -> tuple[str, ...]:
    """The accepted names of one IDX file, preferred first: gzipped or plain, and the
    ``t10k-images.idx3-ubyte`` spelling some unpackers produce."""
    dotted = stem.replace("-idx", ".idx")
    return (f"{stem}.gz", stem, f"{dotted}.gz", dotted)


def find_file(folder: Path, stem: str) -> Path | None:
    """The first existing file for ``stem`` in ``folder`` (gzipped or plain), else None."""
    return next((folder / n for n in spellings(stem) if (folder / n).is_file()), None)


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-format dataset: four IDX files, searched for and downloaded by name."""

    name: str  # folder name: <root>/<name>/
    title: str  # for messages
    mirrors: tuple[str, ...]  # base URLs ending in "/"
    archive_sha256: Mapping[str, str]  # "<stem>.gz" -> SHA-256 of the canonical archive
    num_classes: int = 10
    class_names: tuple[str, ...] = field(default_factory=tuple)
    #: the test set ships with netcore (``load_bundled``): named in not-found messages
    bundled: bool = False

    @property
    def module(self) -> str:
        """The module users call: ``mnist`` or ``fashion_mnist``."""
        return self.name.replace("-", "_")

    # -- locating ---------------------------------------------------------------------
    def search_dirs(self, path: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
        """Folders searched, in order: ``path`` and ``path/<name>`` when given, else the
        default search order (``$NETCORE_DATA``, cache, system folders)."""
        return _locate.search_dirs(self.name, path)

    def find_files(
        self,
        split: Split = "test",
        path: str | os.PathLike[str] | None = None,
        download: bool = True,
    ) -> tuple[Path, Path]:
        """Return ``(images_file, labels_file)`` of ``split``, downloading them if needed."""
        if split not in SPLIT_FILES:
            raise ValueError(f"split must be 'train' or 'test', received {split!r}")
        stems = SPLIT_FILES[split]
        found = _locate.search(self.name, [spellings(s) for s in stems], path)
        if found.found is not None:
            return found.found[0], found.found[1]

        target = Path(path).expanduser() if path is not None else _locate.cache_root() / self.name
        failures: list[str] = []
        if download:
            try:
                got = []
                for stem in stems:
                    existing = find_file(target, stem)
                    got.append(
                        existing
                        or _locate.download(
                            f"{stem}.gz", self.mirrors, self.archive_sha256[f"{stem}.gz"], target
                        )
                    )
                return got[0], got[1]
            except _locate.DownloadFailed as exc:
                failures = exc.reasons
        raise DatasetNotFoundError(
            self._not_found_message(
                split, stems, list(found.searched), target, download, failures, path
            )
        )

    def _not_found_message(
        self,
        split: str,
        stems: tuple[str, str],
        searched: list[str],
        target: Path,
        download: bool,
        failures: list[str],
        path: str | os.PathLike[str] | None,
    ) -> str:
        lines = [
            f"{self.title} {split} set not found: need {stems[0]}.gz and {stems[1]}.gz "
            "(gzip-compressed or plain).",
            "Searched, in order:",
        ]
        lines += [f"  {s}" for s in searched]
        if path is None and not os.environ.get(_locate.ENV_VAR):
            lines.append(
                f"  (${_locate.ENV_VAR} is not set: point it at a folder holding the "
                f"files or a '{self.name}/' subfolder with them)"
            )
        if not download:
            lines.append("Download: not attempted (download=False).")
        else:
            lines.append(f"Download into {target} failed:")
            lines += [f"  - {r}" for r in failures]
        lines.append(
            f"Fix: connect to the internet and retry; or copy the files into one of the folders "
            f"above (e.g. {_locate.cache_root() / self.name}); or set ${_locate.ENV_VAR}; "
            "or pass path=<folder>."
        )
        if split == "train":
            lines += self._test_only_hint(path)
        return "\n".join(lines)

    def _test_only_hint(self, path: str | os.PathLike[str] | None) -> list[str]:
        test = _locate.search(self.name, [spellings(s) for s in SPLIT_FILES["test"]], path)
        arg = "" if path is None else repr(str(path))
        out = []
        if test.found is not None:
            out.append(
                f"Only the test set (t10k files) is in {test.found[0].parent}: "
                f"{self.module}.load_test({arg}) loads that set alone."
            )
        else:
            out.append(f"For the test set alone: {self.module}.load_test({arg}).")
        if self.bundled:
            out.append(
                f"No files at all? {self.module}.load_bundled() gives the real {self.title} "
                "test set shipped with netcore, split 8,000/2,000 (no download)."
            )
        return out

    # -- loading ----------------------------------------------------------------------
    def load_split(
        self, split: Split, path: str | os.PathLike[str] | None = None, download: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Load one split as ``(x, y)``: uint8 arrays of shape (N, 28, 28) and (N,)."""
        images_file, labels_file = self.find_files(split, path, download)
        x = read_idx(images_file, IMAGES_MAGIC)
        y = read_idx(labels_file, LABELS_MAGIC)
        if x.shape[1:] != IMAGE_SHAPE:
            raise DataFileError(
                f"{images_file}: images are {x.shape[1]}x{x.shape[2]}, "
                f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}"
            )
        if len(x) != len(y):
            raise DataFileError(
                f"{images_file} holds {len(x)} images but {labels_file} holds "
                f"{len(y)} labels; the two files do not belong together"
            )
        if y.size and int(y.max()) >= self.num_classes:
            raise DataFileError(
                f"{labels_file}: label {int(y.max())} outside 0..."
                f"{self.num_classes - 1}; corrupt file or another dataset"
            )
        self._check_identity(images_file, x, f"{self.title} {split} images")
        self._check_identity(labels_file, y, f"{self.title} {split} labels")
        return x, y

    @staticmethod
    def _check_identity(file: Path, array: np.ndarray, expected: str) -> None:
        # Only catches a *known* file in the wrong place (e.g. MNIST found for Fashion-MNIST);
        # unknown contents are accepted, since local copies may be legitimately different.
        known = _KNOWN_CONTENT.get(content_sha256(array))
        if known is not None and known != expected:
            raise DataFileError(
                f"{file} holds {known}, not {expected}; move it to the right "
                "folder (files of different datasets share these names)"
            )

    def load_data(
        self,
        path: str | os.PathLike[str] | None = None,
        download: bool = True,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Keras-style ``(x_train, y_train), (x_test, y_test)``."""
        return self.load_split("train", path, download), self.load_split("test", path, download)


def content_sha256(array: np.ndarray) -> str:
    """SHA-256 of the IDX file bytes an array was read from (header + big-endian data)."""
    h = hashlib.sha256()
    magic = (0x08 << 8) | array.ndim
    h.update(magic.to_bytes(4, "big"))
    for d in array.shape:
        h.update(int(d).to_bytes(4, "big"))
    h.update(np.ascontiguousarray(array).data)  # uint8 only here, so byte order is moot
    return h.hexdigest()


def public_api(ds: IdxDataset) -> tuple[Callable[..., Any], ...]:
    """The Keras-style module functions of one dataset, written once for MNIST and Fashion-MNIST:
    ``load_data, load_test, load_train, find_files, search_dirs``."""

    def load_data(
        path: str | os.PathLike[str] | None = None,
        download: bool = True,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return ds.load_data(path, download)

    def load_test(
        path: str | os.PathLike[str] | None = None,
        download: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        return ds.load_split("test", path, download)

    def load_train(
        path: str | os.PathLike[str] | None = None,
        download: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        return ds.load_split("train", path, download)

    def find_files(
        split: Split = "test", path: str | os.PathLike[str] | None = None, download: bool = False
    ) -> tuple[Path, Path]:
        return ds.find_files(split, path, download)

    def search_dirs(path: str | os.PathLike[str] | None = None) -> list[Path]:
        return [folder for _, folder in ds.search_dirs(path)]

    load_data.__doc__ = f"""Load {ds.title} like ``keras.datasets.{ds.name.replace("-", "_")}.load_data()``.

    Args:
        path: a folder holding the four IDX files (gzipped or plain), directly or in a
            ``{ds.name}/`` subfolder; missing files are downloaded into it. ``None``
            searches the default folders and downloads into ``~/.cache/netcore/{ds.name}/``.
        download: allow downloading missing files (verified by SHA-256).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays, x of shape (N, 28, 28),
        y of shape (N,).

    Raises:
        DatasetNotFoundError: files found nowhere and not downloadable; lists what was tried.
        DataFileError: a file is corrupt, truncated or does not match its partner.
    """
    load_test.__doc__ = (
        f"Load only the 10,000-image {ds.title} test split as ``(x_test, y_test)``.\n\n"
        "    Useful where the training files are absent. Same arguments and errors as\n"
        "    :func:`load_data`.\n"
    )
    load_train.__doc__ = (
        f"Load only the 60,000-image {ds.title} training split as ``(x_train, y_train)``."
    )
    find_files.__doc__ = (
        'Locate ``(images_file, labels_file)`` of ``split`` ("train" or "test").\n\n'
        "    By default only searches (no download); raises DatasetNotFoundError listing the\n"
        "    folders searched when the pair is found nowhere.\n"
    )
    search_dirs.__doc__ = "The folders that would be searched, in order."
    return load_data, load_test, load_train, find_files, search_dirs
