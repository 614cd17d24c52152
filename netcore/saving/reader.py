"""Reading a model file (layout: :mod:`netcore.saving.writer`) with memory bounded by the architecture.

:class:`ModelFile` opens only the members the format defines: ``netcore.json`` is checked on
open (size, JSON without NaN/Infinity, every field's type and range); each ``.npy`` member's
header (dtype, shape, declared size) is checked against what the caller expects before any of
its data is read, and its declared size against the bytes the archive really holds. Every
failure is a :class:`ModelFileError` naming the file and what is wrong. Rebuilding the model
from what is read is the model side's job (:mod:`netcore.saving.loader`).

Why this module is over 400 lines: each check of an untrusted file (zip directory, JSON
fields, ``.npy`` headers, sizes) is short, but they all guard one reader and read best
together; split up, a reader would have to chase the rules of one format across modules.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeGuard

import numpy as np

from ..errors import ModelFileError
from .format import FORMAT, FORMAT_VERSION, JSON_MEMBER, slot_member, weight_member

__all__ = ["ModelFile", "MAX_JSON_BYTES", "MAX_NPY_HEADER"]

#: ``netcore.json`` larger than this, plus ``JSON_BYTES_PER_MEMBER`` for each member of the
#: archive, is refused before it is read: a config is a few KiB, and a model of many layers
#: (each ~300 bytes of config) has as many weight members.
MAX_JSON_BYTES = 4 * 2**20
JSON_BYTES_PER_MEMBER = 1024
#: ``.npy`` headers larger than this are refused (netcore writes ~128 bytes).
MAX_NPY_HEADER = 4096
_MAX_ITERATIONS = 2**63 - 1
#: DEFLATE expands at most 1032-fold: a member declaring more than that is lying about its size.
_MAX_DEFLATE_RATIO = 1032
_UNBOUNDED = 2**63
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}

#: What a damaged member can raise inside zipfile/zlib/NumPy's header parser; each one becomes
#: ModelFileError. (zlib.error and struct.error are Exception subclasses without a better base.)
_CORRUPT = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    OverflowError,
    RecursionError,
    RuntimeError,
    NotImplementedError,
    UnicodeError,
    zlib.error,
    struct.error,
)
_INCONSISTENT = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    OverflowError,
    RecursionError,
    UnicodeError,
)


class ModelFile:
    """An open model file. Opening reads and checks ``netcore.json`` only; arrays are read on
    request, each checked against the shape, dtype and sign the caller expects before its data
    is read. Every failure raises :class:`ModelFileError` naming the file.

    >>> with ModelFile("model.netcore") as f:           # doctest: +SKIP
    ...     f.config, f.input_shape, f.compile_config
    ...     weights = f.read_weights([(784, 10), (10,)], np.float32)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(os.fspath(path))
        self._fh = self._open_regular_file()
        self._size = os.fstat(self._fh.fileno()).st_size
        try:
            self._zf = self._open_zip()
            self._members = self._index_members()
            self.meta = self._read_meta()
        except BaseException:
            self.close()
            raise
        self.config: dict[str, Any] = self.meta["model"]
        self.input_shape: tuple[int, ...] = tuple(self.meta["input_shape"])
        self.compile_config: dict[str, Any] | None = self.meta.get("compile")

    # -- errors
    def error(self, what: str) -> ModelFileError:
        return ModelFileError(f"{str(self.path)!r} {what}")

    @contextlib.contextmanager
    def checking(self, what: str) -> Iterator[None]:
        """Turn the errors of rebuilding ``what`` from the file into ModelFileError."""
        try:
            yield
        except ModelFileError:
            raise
        except _INCONSISTENT as exc:
            raise self.error(
                f"holds an inconsistent netcore model: {what}: {type(exc).__name__}: {exc}"
            ) from None

    @contextlib.contextmanager
    def _reading(self, member: str) -> Iterator[None]:
        try:
            yield
        except ModelFileError:
            raise
        except _CORRUPT as exc:
            raise self.error(
                f"is truncated or corrupt (member {member}: {type(exc).__name__}: {exc})"
            ) from None

    # -- opening
    def _open_regular_file(self) -> io.BufferedReader:
        p = str(self.path)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise ModelFileError(f"model file {p!r} does not exist") from None
        except IsADirectoryError:
            raise ModelFileError(f"model file {p!r} is a directory, not a file") from None
        except OSError as exc:
            raise ModelFileError(
                f"model file {p!r} cannot be read ({exc.strerror or exc})"
            ) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            what = "a directory, not a file" if stat.S_ISDIR(mode) else "not a regular file"
            raise ModelFileError(f"model file {p!r} is {what}")
        return os.fdopen(fd, "rb")

    def _open_zip(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self._fh)
        except zipfile.BadZipFile as exc:
            raise self.error(
                f"is not a netcore model file, or it is truncated or corrupt ({exc})"
            ) from None
        except _CORRUPT as exc:
            raise self.error(f"is truncated or corrupt ({type(exc).__name__}: {exc})") from None

    def _index_members(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zf.infolist():
            if info.filename in members:
                raise self.error(f"is corrupt: member {info.filename} appears twice")
            members[info.filename] = info
        if JSON_MEMBER not in members:
            raise self.error(f"is not a netcore model file (no {JSON_MEMBER} inside)")
        return members

    def _open_member(self, name: str, max_size: int) -> IO[bytes]:
        info = self._members[name]
        if info.flag_bits & 0x1:
            raise self.error(f"is not a file netcore wrote: member {name} is encrypted")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise self.error(
                f"is not a file netcore wrote: member {name} uses compression method "
                f"{info.compress_type} (netcore reads stored or deflate members)"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise self.error(
                f"is corrupt: stored member {name} declares {info.file_size} bytes "
                f"but occupies {info.compress_size}"
            )
        if info.file_size > max_size:
            raise self.error(
                f"is corrupt: member {name} declares {info.file_size} bytes, "
                f"more than the {max_size} it can hold"
            )
        if info.header_offset + info.compress_size > self._size:
            raise self.error(f"is truncated: member {name} runs past the end of the file")
        if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
            raise self.error(
                f"is corrupt: member {name} declares {info.file_size} bytes, more "
                f"than its {info.compress_size} compressed bytes can hold"
            )
        return self._zf.open(info)

    def _read_meta(self) -> dict[str, Any]:
        limit = MAX_JSON_BYTES + JSON_BYTES_PER_MEMBER * len(self._members)
        with self._reading(JSON_MEMBER), self._open_member(JSON_MEMBER, limit) as f:
            raw = f.read(limit + 1)
        try:
            meta = json.loads(
                raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
            )
        except (ValueError, RecursionError) as exc:
            raise self.error(
                f"is not a netcore model file ({JSON_MEMBER} is not valid JSON: "
                f"{type(exc).__name__}: {exc})"
            ) from None
        return self._checked_meta(meta)

    def _checked_meta(self, meta: Any) -> dict[str, Any]:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise self.error(f"is not a netcore model file (format {found!r})")
        version = meta.get("format_version")
        if not _is_int(version) or version < 1:
            raise self.error(
                f"is corrupt: format_version must be a positive integer, received {version!r}"
            )
        if version > FORMAT_VERSION:
            raise self.error(
                f"has format version {version}; this netcore reads up to "
                f"{FORMAT_VERSION}: upgrade netcore"
            )
        if not isinstance(meta.get("model"), dict):
            raise self.error(
                f"is corrupt: 'model' must be an object, received {meta.get('model')!r:.80}"
            )
        shape = meta.get("input_shape")
        if not (isinstance(shape, list) and shape and all(_is_int(d) and d > 0 for d in shape)):
            raise self.error(
                f"is corrupt: input_shape must be a list of positive integers, "
                f"received {shape!r:.80}"
            )
        comp = meta.get("compile")
        if comp is not None:
            self._check_compile(comp)
        return meta

    def _check_compile(self, comp: Any) -> None:
        if not isinstance(comp, dict):
            raise self.error(
                f"is corrupt: 'compile' must be an object or null, received {comp!r:.80}"
            )
        checks = {
            "loss": isinstance(comp.get("loss"), str),
            "metrics": isinstance(comp.get("metrics"), list)
            and all(isinstance(m, str) for m in comp["metrics"]),
            "optimizer": isinstance(comp.get("optimizer"), dict)
            and isinstance(comp["optimizer"].get("name"), str),
            "iterations": _is_int(comp.get("iterations"))
            and 0 <= comp["iterations"] <= _MAX_ITERATIONS,
        }
        expected = {
            "loss": "a loss name",
            "metrics": "a list of metric names",
            "optimizer": "an optimizer config with a name",
            "iterations": f"an integer step count in [0, {_MAX_ITERATIONS}]",
        }
        for key, ok in checks.items():
            if not ok:
                raise self.error(
                    f"is corrupt: compile.{key} must be {expected[key]}, "
                    f"received {comp.get(key)!r:.80}"
                )

    # -- arrays
    def weight_shapes(self) -> list[tuple[int, ...]]:
        """The shapes the ``weights/<i>.npy`` headers declare (headers only, no data read).

        Each is backed by its member's declared size, itself bounded by the bytes in the file,
        so a loader may compare the architecture's needs with them before allocating anything.
        """
        shapes: list[tuple[int, ...]] = []
        while (name := weight_member(len(shapes))) in self._members:
            with self._reading(name), self._open_member(name, _UNBOUNDED) as f:
                shape, _, found, header_len, _ = self._npy_header(name, f)
            nbytes = math.prod(shape) * found.itemsize
            if self._members[name].file_size != header_len + nbytes:
                raise self._size_error(name, header_len + nbytes)
            shapes.append(shape)
        return shapes

    def read_weights(
        self, shapes: Sequence[tuple[int, ...]], dtype: Any, allow_nonfinite: bool = False
    ) -> list[np.ndarray]:
        """The weights, which must be exactly ``len(shapes)`` arrays of these shapes and ``dtype``."""
        names = [weight_member(i) for i in range(len(shapes))]
        self._refuse_extra("weights/", names, "weight arrays")
        return [
            self._read_array(n, tuple(s), np.dtype(dtype), False, allow_nonfinite)
            for n, s in zip(names, shapes)
        ]

    def read_optimizer_state(
        self,
        slot_shapes: Sequence[Mapping[str, tuple[int, ...]]],
        dtype: Any,
        nonnegative: Sequence[str] = (),
        allow_nonfinite: bool = False,
    ) -> list[dict[str, np.ndarray]]:
        """Optimizer state ``i`` as ``{slot: array}`` with exactly the slots and shapes of
        ``slot_shapes[i]``; slots named in ``nonnegative`` must hold no negative value."""
        names = [slot_member(i, s) for i, slots in enumerate(slot_shapes) for s in slots]
        self._refuse_extra("optimizer/", names, "optimizer state")
        return [
            {
                s: self._read_array(
                    slot_member(i, s),
                    tuple(shape),
                    np.dtype(dtype),
                    s in nonnegative,
                    allow_nonfinite,
                )
                for s, shape in slots.items()
            }
            for i, slots in enumerate(slot_shapes)
        ]

    def _refuse_extra(self, prefix: str, expected: Sequence[str], what: str) -> None:
        known = set(expected)  # once: a set per member made loading quadratic in the layers
        extra = sorted(n for n in self._members if n.startswith(prefix) and n not in known)
        if extra:
            raise self.error(
                f"holds an inconsistent netcore model: {what} the architecture does "
                f"not have ({', '.join(extra[:5])})"
            )

    def _npy_header(
        self, name: str, f: IO[bytes]
    ) -> tuple[tuple[int, ...], bool, np.dtype, int, bytes]:
        """Shape, Fortran order, dtype, header length and the data bytes read along with it."""
        head = io.BytesIO(f.read(min(self._members[name].file_size, MAX_NPY_HEADER)))
        version = np.lib.format.read_magic(head)
        if version not in ((1, 0), (2, 0)):
            raise self.error(f"is corrupt: member {name} has .npy version {version}")
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, found = read_header(head, max_header_size=MAX_NPY_HEADER)
        if found.kind == "c":
            raise self.error(
                f"holds complex numbers in {name}; weights and optimizer state are real"
            )
        if found.kind != "f":
            raise self.error(f"is corrupt: {name} holds {found} data, not floating point")
        return tuple(shape), bool(fortran), found, head.tell(), head.read()

    def _size_error(self, name: str, expected: int) -> ModelFileError:
        return self.error(
            f"is corrupt: member {name} declares {self._members[name].file_size} "
            f"bytes, its .npy header says {expected}"
        )

    def _read_array(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: np.dtype,
        nonnegative: bool,
        allow_nonfinite: bool,
    ) -> np.ndarray:
        if name not in self._members:
            raise self.error(f"holds an inconsistent netcore model: member {name} is missing")
        nbytes = math.prod(shape) * dtype.itemsize
        with self._reading(name), self._open_member(name, nbytes + MAX_NPY_HEADER) as f:
            found_shape, fortran, found, header_len, data = self._npy_header(name, f)
            if found.itemsize != dtype.itemsize:
                raise self.error(
                    f"holds an inconsistent netcore model: {name} holds {found} data, "
                    f"the model's dtype is {dtype}"
                )
            if found_shape != shape:
                raise self.error(
                    f"holds an inconsistent netcore model: {name} has shape "
                    f"{found_shape}, the architecture needs {shape}"
                )
            if self._members[name].file_size != header_len + nbytes:
                raise self._size_error(name, header_len + nbytes)
            data += f.read(nbytes - len(data))
            if len(data) != nbytes or f.read(1):  # reading to the end checks the CRC
                raise self.error(
                    f"is truncated or corrupt (member {name} holds {len(data)} of "
                    f"{nbytes} data bytes)"
                )
            arr = np.frombuffer(data, dtype=found).reshape(shape, order="F" if fortran else "C")
        arr = arr.astype(dtype, copy=False)
        if not allow_nonfinite and not np.isfinite(arr).all():
            raise self.error(
                f"holds NaN or inf in {name} (load with allow_nonfinite=True to inspect it anyway)"
            )
        if nonnegative and (arr < 0).any():
            raise self.error(
                f"is corrupt: {name} holds negative values, which its optimizer's "
                "update rule never produces"
            )
        return arr

    # -- closing
    def close(self) -> None:
        zf = getattr(self, "_zf", None)
        if zf is not None:
            zf.close()
        self._fh.close()

    def __enter__(self) -> ModelFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text} overflows a float")
    return v
