"""The one-file model format: writing and reading the archive, nothing about layers or training.

A model file is a zip archive (members stored, uncompressed) holding exactly:

- ``netcore.json``: ``{"format": "netcore-model", "format_version": 1, "netcore_version": ...,
  "model": <Sequential.get_config()>, "input_shape": [...], "compile": null or {"loss": name,
  "metrics": [names], "optimizer": <Optimizer.get_config()>, "iterations": step count}}``;
- ``weights/<i>.npy``: the weights in ``get_weights()`` order;
- ``optimizer/<i>/<slot>.npy``: optimizer state ``i`` (one per parameter buffer), one member per slot.

Writes are atomic: a temporary file beside the target, flushed and fsynced, then ``os.replace``;
an interrupted save leaves the previous file untouched, and the next save of the same target
removes the temporaries that killed saves left behind.

Reads are bounded by what the architecture needs: :class:`ModelFile` opens only the members above,
checks each ``.npy`` header (dtype, shape, member size) against what the caller expects before
reading any data, and turns every failure into :class:`ModelFileError` naming the file. Building
the model from the config is the model's job (``netcore.models``); this module never imports it.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from . import __version__
from .errors import ModelFileError

try:  # POSIX advisory locks tell a live save's temporary file from a killed one's
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFile", "write_model_file", "check_save_target",
           "save_model", "load_model"]

FORMAT = "netcore-model"
FORMAT_VERSION = 1
JSON_MEMBER = "netcore.json"
#: ``netcore.json`` larger than this is refused before it is read (a config is a few KiB).
MAX_JSON_BYTES = 16 * 2**20
#: ``.npy`` headers larger than this are refused (ours are ~128 bytes).
MAX_NPY_HEADER = 4096
_MAX_ITERATIONS = 2**63 - 1
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def weight_member(i: int) -> str:
    return f"weights/{i}.npy"


def slot_member(i: int, slot: str) -> str:
    return f"optimizer/{i}/{slot}.npy"


# ---------------------------------------------------------------------------- writing
def write_model_file(path: str | os.PathLike, config: Mapping[str, Any], input_shape: Sequence[int],
                     compile_config: Mapping[str, Any] | None, weights: Sequence[np.ndarray],
                     optimizer_state: Sequence[Mapping[str, np.ndarray]] = (),
                     weight_names: Sequence[str] | None = None,
                     allow_nonfinite: bool = False) -> None:
    """Write one model file to ``path`` atomically.

    ``config`` is the model's ``get_config()``; ``compile_config`` holds ``loss``, ``metrics``,
    ``optimizer`` (its ``get_config()``) and ``iterations``, or is None for an uncompiled model.
    NaN or inf in a weight or an optimizer slot raises ``ValueError`` naming the tensor unless
    ``allow_nonfinite=True`` (such a file loads only with ``allow_nonfinite=True`` as well).
    The target must be a regular file or a new name; a symlink is followed and the file it
    points to is replaced. A new file gets the mode the umask gives; a replaced file keeps its mode.
    """
    if not isinstance(allow_nonfinite, bool):
        raise ValueError(f"allow_nonfinite must be True or False, received {allow_nonfinite!r}")
    names = list(weight_names) if weight_names is not None else [f"weight {i}" for i in range(len(weights))]
    arrays: dict[str, np.ndarray] = {}
    for i, (w, name) in enumerate(zip(weights, names)):
        arrays[weight_member(i)] = _checked_host_array(w, name, allow_nonfinite)
    for i, slots in enumerate(optimizer_state):
        for slot, arr in slots.items():
            arrays[slot_member(i, slot)] = _checked_host_array(arr, f"optimizer slot {slot!r} ({i})",
                                                               allow_nonfinite)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "netcore_version": __version__,
            "model": dict(config), "input_shape": [int(d) for d in input_shape],
            "compile": dict(compile_config) if compile_config is not None else None}
    payload = json.dumps(meta, indent=1, allow_nan=False)
    _atomic_write(Path(os.fspath(path)), payload, arrays)


def _checked_host_array(a: Any, name: str, allow_nonfinite: bool) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if not allow_nonfinite and not np.isfinite(a).all():
        raise ValueError(f"cannot save the model: {name} holds NaN or inf (a diverged run?); "
                         "pass allow_nonfinite=True to save it anyway")
    return a


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def check_save_target(path: str | os.PathLike) -> Path:
    """The file a save to ``path`` would write (symlinks followed), after checking that it can:
    the target is a regular file or a new name, and its folder exists and takes new files.
    Raises ``OSError`` naming ``path``. Call it before a long run whose result will be saved."""
    target = _resolve_target(Path(os.fspath(path)))
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
    except OSError as exc:
        raise _named(exc, path) from None
    os.close(fd)
    os.unlink(probe)
    return target


def _resolve_target(path: Path) -> Path:
    """The regular file behind ``path`` (symlinks followed), or a new name in an existing folder."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _named(exc, path) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "cannot save the model: the target is a directory "
                                    "(give a file name, e.g. model.netcore)", str(path))
        kind = ("a character device" if stat.S_ISCHR(st.st_mode) else "a block device"
                if stat.S_ISBLK(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise OSError(errno.EINVAL, f"cannot save the model: the target is {kind}, not a regular "
                      "file, and is left alone", str(path))
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot save the model: the folder {str(path.parent)!r} "
                                "does not exist", str(path))
    return target


def _named(exc: OSError, path: str | os.PathLike) -> OSError:
    """The same kind of error, naming the target instead of a temporary file."""
    return type(exc)(exc.errno, f"cannot save the model: {exc.strerror or exc}", os.fspath(path))


def _atomic_write(path: Path, payload: str, arrays: Mapping[str, np.ndarray]) -> None:
    target = _resolve_target(path)
    _remove_stale_temporaries(target)
    try:
        fd, tmp = _locked_temporary(target)
    except OSError as exc:
        raise _named(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _set_mode(fh.fileno(), target)
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(JSON_MEMBER, payload)
                for name, arr in arrays.items():
                    zf.writestr(name, _npy_bytes(arr))
            fh.flush()
            os.fsync(fh.fileno())
            if fcntl is not None:
                os.replace(tmp, target)  # renamed while locked: never taken for a killed save's
        if fcntl is None:  # pragma: no cover - Windows renames closed files only
            os.replace(tmp, target)
        _fsync_folder(target.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (tmp, None):
            raise _named(exc, path) from None
        raise


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    # tempfile.mkstemp's names: prefix + 8 characters from [a-z0-9_] + suffix.
    return re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")


def _locked_temporary(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target``, locked for as long as this process holds it."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return fd, tmp
        os.close(fd)  # another save took it for a killed one's between creation and lock


def _remove_stale_temporaries(target: Path) -> None:
    """Remove temporaries of ``target`` whose writer is gone: a live save holds its file's lock,
    and the kernel drops the lock of a killed process."""
    if fcntl is None:  # pragma: no cover - without locks a live save cannot be told apart
        return
    pattern = _temporary_pattern(target)
    try:
        names = [n for n in os.listdir(target.parent) if pattern.fullmatch(n)]
    except OSError:
        return
    for name in names:
        stale = target.parent / name
        try:
            fd = os.open(stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a save in progress
            with contextlib.suppress(OSError):
                os.unlink(stale)
        finally:
            os.close(fd)


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o22)  # not thread-safe, hence only where /proc is missing
    os.umask(mask)
    return mask


def _set_mode(fd: int, target: Path) -> None:
    """mkstemp makes 0600 files: give the replacement the mode (and owner) the target has, or
    the umask's mode for a new file, as ``open(path, "w")`` would."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------- reading
#: What a damaged member can raise inside zipfile/zlib/NumPy's header parser; each one becomes
#: ModelFileError. (zlib.error and struct.error are Exception subclasses without a better base.)
_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, OverflowError, RecursionError, RuntimeError,
            NotImplementedError, UnicodeError, zlib.error, struct.error)
_INCONSISTENT = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
                 RecursionError, UnicodeError)


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
        try:
            self._zf = self._open_zip()
            self._members = self._index_members()
            self.meta = self._read_meta()
        except BaseException:
            self.close()
            raise
        self.config: dict[str, Any] = self.meta["model"]
        self.input_shape: tuple[int, ...] = tuple(self.meta["input_shape"])
        self.compile_config: dict[str, Any] | None = self.meta["compile"]

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
            raise self.error(f"holds an inconsistent netcore model: {what}: "
                             f"{type(exc).__name__}: {exc}") from None

    @contextlib.contextmanager
    def _reading(self, member: str) -> Iterator[None]:
        try:
            yield
        except ModelFileError:
            raise
        except _CORRUPT as exc:
            raise self.error(f"is truncated or corrupt (member {member}: "
                             f"{type(exc).__name__}: {exc})") from None

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
            raise ModelFileError(f"model file {p!r} cannot be read ({exc.strerror or exc})") from None
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
            raise self.error(f"is not a netcore model file, or it is truncated or corrupt ({exc})") from None
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

    def _open_member(self, name: str, max_size: int) -> zipfile.ZipExtFile:
        info = self._members[name]
        if info.flag_bits & 0x1:
            raise self.error(f"is not a file netcore wrote: member {name} is encrypted")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise self.error(f"is not a file netcore wrote: member {name} uses compression method "
                             f"{info.compress_type} (netcore reads stored or deflate members)")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise self.error(f"is corrupt: stored member {name} declares {info.file_size} bytes "
                             f"but occupies {info.compress_size}")
        if info.file_size > max_size:
            raise self.error(f"is corrupt: member {name} declares {info.file_size} bytes, "
                             f"more than the {max_size} it can hold")
        return self._zf.open(info)

    def _read_meta(self) -> dict[str, Any]:
        with self._reading(JSON_MEMBER), self._open_member(JSON_MEMBER, MAX_JSON_BYTES) as f:
            raw = f.read(MAX_JSON_BYTES + 1)
        try:
            meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise self.error(f"is not a netcore model file ({JSON_MEMBER} is not valid JSON: "
                             f"{type(exc).__name__}: {exc})") from None
        return self._checked_meta(meta)

    def _checked_meta(self, meta: Any) -> dict[str, Any]:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise self.error(f"is not a netcore model file (format {found!r})")
        version = meta.get("format_version")
        if not _is_int(version) or version < 1:
            raise self.error(f"is corrupt: format_version must be a positive integer, received {version!r}")
        if version > FORMAT_VERSION:
            raise self.error(f"has format version {version}; this netcore reads up to "
                             f"{FORMAT_VERSION}: upgrade netcore")
        if not isinstance(meta.get("model"), dict):
            raise self.error(f"is corrupt: 'model' must be an object, received {meta.get('model')!r:.80}")
        shape = meta.get("input_shape")
        if not (isinstance(shape, list) and shape and all(_is_int(d) and d > 0 for d in shape)):
            raise self.error(f"is corrupt: input_shape must be a list of positive integers, "
                             f"received {shape!r:.80}")
        comp = meta.get("compile")
        if comp is not None:
            self._check_compile(comp)
        return meta

    def _check_compile(self, comp: Any) -> None:
        if not isinstance(comp, dict):
            raise self.error(f"is corrupt: 'compile' must be an object or null, received {comp!r:.80}")
        checks = {"loss": isinstance(comp.get("loss"), str),
                  "metrics": isinstance(comp.get("metrics"), list)
                  and all(isinstance(m, str) for m in comp["metrics"]),
                  "optimizer": isinstance(comp.get("optimizer"), dict)
                  and isinstance(comp["optimizer"].get("name"), str),
                  "iterations": _is_int(comp.get("iterations"))
                  and 0 <= comp["iterations"] <= _MAX_ITERATIONS}
        expected = {"loss": "a loss name", "metrics": "a list of metric names",
                    "optimizer": "an optimizer config with a name",
                    "iterations": f"an integer step count in [0, {_MAX_ITERATIONS}]"}
        for key, ok in checks.items():
            if not ok:
                raise self.error(f"is corrupt: compile.{key} must be {expected[key]}, "
                                 f"received {comp.get(key)!r:.80}")

    # -- arrays
    def read_weights(self, shapes: Sequence[tuple[int, ...]], dtype: Any,
                     allow_nonfinite: bool = False) -> list[np.ndarray]:
        """The weights, which must be exactly ``len(shapes)`` arrays of these shapes and ``dtype``."""
        names = [weight_member(i) for i in range(len(shapes))]
        self._refuse_extra("weights/", names, "weight arrays")
        return [self._read_array(n, tuple(s), np.dtype(dtype), False, allow_nonfinite)
                for n, s in zip(names, shapes)]

    def read_optimizer_state(self, slot_shapes: Sequence[Mapping[str, tuple[int, ...]]], dtype: Any,
                             nonnegative: Sequence[str] = (),
                             allow_nonfinite: bool = False) -> list[dict[str, np.ndarray]]:
        """Optimizer state ``i`` as ``{slot: array}`` with exactly the slots and shapes of
        ``slot_shapes[i]``; slots named in ``nonnegative`` must hold no negative value."""
        names = [slot_member(i, s) for i, slots in enumerate(slot_shapes) for s in slots]
        self._refuse_extra("optimizer/", names, "optimizer state")
        return [{s: self._read_array(slot_member(i, s), tuple(shape), np.dtype(dtype),
                                     s in nonnegative, allow_nonfinite)
                 for s, shape in slots.items()} for i, slots in enumerate(slot_shapes)]

    def _refuse_extra(self, prefix: str, expected: Sequence[str], what: str) -> None:
        extra = sorted(n for n in self._members if n.startswith(prefix) and n not in set(expected))
        if extra:
            raise self.error(f"holds an inconsistent netcore model: {what} the architecture does "
                             f"not have ({', '.join(extra[:5])})")

    def _read_array(self, name: str, shape: tuple[int, ...], dtype: np.dtype, nonnegative: bool,
                    allow_nonfinite: bool) -> np.ndarray:
        if name not in self._members:
            raise self.error(f"holds an inconsistent netcore model: member {name} is missing")
        nbytes = math.prod(shape) * dtype.itemsize
        with self._reading(name), self._open_member(name, nbytes + MAX_NPY_HEADER) as f:
            head = io.BytesIO(f.read(min(self._members[name].file_size, MAX_NPY_HEADER)))
            version = np.lib.format.read_magic(head)
            if version not in ((1, 0), (2, 0)):
                raise self.error(f"is corrupt: member {name} has .npy version {version}")
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            found_shape, fortran, found = read_header(head, max_header_size=MAX_NPY_HEADER)
            self._check_header(name, found_shape, found, shape, dtype)
            header_len = head.tell()
            if self._members[name].file_size != header_len + nbytes:
                raise self.error(f"is corrupt: member {name} declares {self._members[name].file_size}"
                                 f" bytes, its header says {header_len + nbytes}")
            data = head.read() + f.read(nbytes - (len(head.getvalue()) - header_len))
            if len(data) != nbytes or f.read(1):  # reading to the end checks the CRC
                raise self.error(f"is truncated or corrupt (member {name} holds {len(data)} of "
                                 f"{nbytes} data bytes)")
            arr = np.frombuffer(data, dtype=found).reshape(shape, order="F" if fortran else "C")
        arr = arr.astype(dtype, copy=False)
        if not allow_nonfinite and not np.isfinite(arr).all():
            raise self.error(f"holds NaN or inf in {name} (load with allow_nonfinite=True to "
                             "inspect it anyway)")
        if nonnegative and (arr < 0).any():
            raise self.error(f"is corrupt: {name} holds negative values, which its optimizer's "
                             "update rule never produces")
        return arr

    def _check_header(self, name: str, found_shape: Any, found: np.dtype, shape: tuple[int, ...],
                      dtype: np.dtype) -> None:
        if found.kind == "c":
            raise self.error(f"holds complex numbers in {name}; weights and optimizer state are real")
        if found.kind != "f" or found.itemsize != dtype.itemsize:
            raise self.error(f"holds an inconsistent netcore model: {name} holds {found} data, "
                             f"the model's dtype is {dtype}")
        if tuple(found_shape) != shape:
            raise self.error(f"holds an inconsistent netcore model: {name} has shape "
                             f"{tuple(found_shape)}, the architecture needs {shape}")

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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text} overflows a float")
    return v


# ---------------------------------------------------------------------------- the model's parts
def save_model(model: Any, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
    """Write a built model (anything with Sequential's ``get_config``, ``get_weights``,
    ``input_shape``, ``layers`` and trainer attributes) to ``path``: see :func:`write_model_file`."""
    model._require_built("save")
    comp, state = None, []
    if model.compiled:
        opt = model.optimizer
        comp = {"loss": model.loss.name, "metrics": [m.name for m in model.metrics],
                "optimizer": opt.get_config(), "iterations": opt.iterations}
        state = [{s: model.backend.to_numpy(a) for s, a in slots.items()} for slots in opt.state]
    names = [f"{layer.name}.{k}" for layer in model.layers for k in layer.params]
    write_model_file(path, model.get_config(), model.input_shape, comp, model.get_weights(), state,
                     names, allow_nonfinite=allow_nonfinite)


def __getattr__(name: str) -> Any:
    # ``netcore.saving.load_model`` is the model side's loader (``netcore.models``), which imports
    # this module; resolving it on first use keeps the imports one-way.
    if name == "load_model":
        from .models import load_model

        return load_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
