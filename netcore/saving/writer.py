"""Writing the one-file model format: nothing about layers or training.

A model file is a zip archive (members stored, uncompressed) holding exactly:

- ``netcore.json``: ``{"format": "netcore-model", "format_version": 1, "netcore_version": ...,
  "model": <Sequential.get_config()>, "input_shape": [...], "compile": null or {"loss": name,
  "loss_config": <Loss.get_config()>, "metrics": [names], "optimizer":
  <Optimizer.get_config()>, "iterations": step count}}`` (``loss_config`` may be absent);
- ``weights/<i>.npy``: the weights in ``get_weights()`` order;
- ``optimizer/<i>/<slot>.npy``: optimizer state ``i`` (one per parameter buffer), one member per slot.

Writes are atomic: a temporary file beside the target, flushed and fsynced, then ``os.replace``;
an interrupted save leaves the previous file untouched, and the next save of the same target
removes the temporaries that killed saves left behind. The target must be a regular file or a
new name (a symlink is followed); a replaced file keeps its mode, a new one gets the umask's.

Reading is :class:`netcore.saving.reader.ModelFile` (checks every member against the
architecture before reading it); rebuilding the model is :func:`netcore.saving.loader.load_model`.
This module imports neither.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .. import validation
from .._version import __version__
from .format import FORMAT, FORMAT_VERSION, JSON_MEMBER, slot_member, weight_member

try:  # POSIX advisory locks tell a live save's temporary file from a killed one's
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["write_model_file", "check_save_target", "save_model"]


# ---------------------------------------------------------------------------- writing
def write_model_file(
    path: str | os.PathLike,
    config: Mapping[str, Any],
    input_shape: Sequence[int],
    compile_config: Mapping[str, Any] | None,
    weights: Sequence[Any],
    optimizer_state: Sequence[Mapping[str, Any]] = (),
    weight_names: Sequence[str] | None = None,
    allow_nonfinite: bool = False,
) -> None:
    """Write one model file to ``path`` atomically.

    ``weights`` and the slots of ``optimizer_state`` are host arrays, or callables returning
    one (read when written). ``config`` is the model's ``get_config()``; ``compile_config`` holds ``loss``, ``metrics``,
    ``optimizer`` (its ``get_config()``) and ``iterations``, or is None for an uncompiled model.
    NaN or inf in a weight or an optimizer slot raises ``ValueError`` naming the tensor unless
    ``allow_nonfinite=True`` (such a file loads only with ``allow_nonfinite=True`` as well).
    The target must be a regular file or a new name; a symlink is followed and the file it
    points to is replaced. A new file gets the mode the umask gives; a replaced file keeps its mode.
    """
    validation.check_bool(allow_nonfinite, "allow_nonfinite")
    names = (
        list(weight_names)
        if weight_names is not None
        else [f"weight {i}" for i in range(len(weights))]
    )
    # (member, how to get the host array, its name in messages): each array is fetched when
    # it is checked and again when it is written, never all at once, so a save needs beyond
    # the model about one array's worth of memory (a host copy of a device array), not a copy
    # of the model.
    members: list[tuple[str, Any, str]] = [
        (weight_member(i), w, name) for i, (w, name) in enumerate(zip(weights, names))
    ]
    for i, slots in enumerate(optimizer_state):
        members += [
            (slot_member(i, slot), arr, f"optimizer slot {slot!r} ({i})")
            for slot, arr in slots.items()
        ]
    if not allow_nonfinite:
        for _, get, name in members:
            _check_finite(_host(get), name)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "netcore_version": __version__,
        "model": dict(config),
        "input_shape": [int(d) for d in input_shape],
        "compile": dict(compile_config) if compile_config is not None else None,
    }
    payload = json.dumps(meta, indent=1, allow_nan=False)
    _atomic_write(Path(os.fspath(path)), payload, [(m, get) for m, get, _ in members])


def _host(get: Any) -> np.ndarray:
    """The host array behind ``get``: an array, or a callable that returns one (a device
    array copied to the host only when it is needed)."""
    return np.asarray(get() if callable(get) else get)


#: elements checked at a time: the finiteness check's scratch memory stays small
_CHUNK = 1 << 20


def _check_finite(a: np.ndarray, name: str) -> None:
    flat = a.reshape(-1)  # a view for the contiguous arrays a model holds
    for start in range(0, flat.size, _CHUNK):
        if not np.isfinite(flat[start : start + _CHUNK]).all():
            raise ValueError(
                f"cannot save the model: {name} holds NaN or inf (a diverged run?); "
                "pass allow_nonfinite=True to save it anyway"
            )


def _write_member(zf: zipfile.ZipFile, name: str, a: np.ndarray) -> None:
    """``a`` as an ``.npy`` member (format 1.0, what ``np.save`` writes for such arrays), its
    data written straight from the array in chunks: no copy of it, whole or in part."""
    a = np.ascontiguousarray(a)
    with zf.open(name, "w", force_zip64=a.nbytes > 2**31 - 2**20) as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(a))
        flat = a.reshape(-1)
        for start in range(0, flat.size, _CHUNK):
            fh.write(flat[start : start + _CHUNK].data.cast("B"))


def check_save_target(path: str | os.PathLike) -> Path:
    """The file a save to ``path`` would write (symlinks followed), after checking that it can:
    the target is a regular file or a new name, and its folder exists and takes new files.
    Raises ``OSError`` naming ``path``. Call it before a long run whose result will be saved."""
    target = _resolve_target(Path(os.fspath(path)))
    try:
        fd, probe = tempfile.mkstemp(
            prefix=_temporary_prefix(target), suffix=".probe", dir=target.parent
        )
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
            raise IsADirectoryError(
                errno.EISDIR,
                "cannot save the model: the target is a directory "
                "(give a file name, e.g. model.netcore)",
                str(path),
            )
        kind = (
            "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise OSError(
            errno.EINVAL,
            f"cannot save the model: the target is {kind}, not a regular file, and is left alone",
            str(path),
        )
    if not target.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT,
            f"cannot save the model: the folder {str(path.parent)!r} does not exist",
            str(path),
        )
    return target


def _named(exc: OSError, path: str | os.PathLike) -> OSError:
    """The same kind of error, naming the target instead of a temporary file."""
    return type(exc)(exc.errno, f"cannot save the model: {exc.strerror or exc}", os.fspath(path))


def _atomic_write(path: Path, payload: str, arrays: Sequence[tuple[str, Any]]) -> None:
    def write(fh: BinaryIO) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(JSON_MEMBER, payload)
            for name, get in arrays:
                _write_member(zf, name, _host(get))

    write_atomically(path, write)


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """``write(fh)`` into a locked temporary file beside ``path``, fsync, rename over ``path``
    (a reader sees the old file or the whole new one); errors name ``path``. Model files and
    exported models (:mod:`netcore.export`) are written this way."""
    path = Path(os.fspath(path))
    target = _resolve_target(path)
    _remove_stale_temporaries(target)
    try:
        fd, tmp = _locked_temporary(target)
    except OSError as exc:
        raise _named(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _set_mode(fh.fileno(), target)
            write(fh)
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


#: bytes mkstemp adds to the prefix: 8 random characters and the longest suffix (".probe")
_TEMPORARY_TAIL = 8 + len(".probe")


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _temporary_prefix(target: Path) -> str:
    """``.<name>.``, the start of ``target``'s temporary names; for a name within a few bytes of
    the file system's limit (255 bytes) it is shortened and ends in a digest of the whole
    name, so that temporaries stay legal names and still belong to one target."""
    prefix = f".{target.name}."
    room = _name_max(target.parent) - _TEMPORARY_TAIL
    raw = os.fsencode(prefix)
    if len(raw) <= room:
        return prefix
    digest = hashlib.blake2b(raw, digest_size=6).hexdigest()
    keep = raw[: max(1, room - len(digest) - 2)].decode("utf-8", "ignore")  # whole characters
    return f"{keep}~{digest}."


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    # tempfile.mkstemp's names: prefix + 8 characters from [a-z0-9_] + suffix.
    return re.compile(re.escape(_temporary_prefix(target)) + r"[a-z0-9_]{8}\.tmp")


def _locked_temporary(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target``, locked for as long as this process holds it."""
    while True:
        fd, tmp = tempfile.mkstemp(
            prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent
        )
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
            # O_NONBLOCK: a FIFO that happens to carry the name must not hang the save.
            fd = os.open(
                stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
            )
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


# ---------------------------------------------------------------------------- the model's parts
def save_model(model: Any, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
    """Write a built model (anything with Sequential's ``get_config``, ``_params``,
    ``input_shape``, ``layers`` and trainer attributes) to ``path``: see :func:`write_model_file`.

    The whole save holds the model's lock, which a training step holds from its forward pass
    to its optimizer update: a ``save`` from another thread while ``fit`` runs writes the
    weights, optimizer slots and step count of one step boundary. The arrays are read in
    place (host views, or one device array copied at a time), never copied as a whole."""
    model._require_built("save")
    with model._lock:
        be = model.backend
        comp, state = None, []
        if model.compiled:
            opt = model.optimizer
            comp = {
                "loss": model.loss.name,
                "loss_config": model.loss.get_config(),  # its arguments (from_logits, ...)
                "metrics": [m.name for m in model.metrics],
                "optimizer": opt.get_config(),
                "iterations": opt.iterations,
            }
            state = [{s: _fetcher(be, a) for s, a in slots.items()} for slots in opt.state]
        items = model._weight_items()  # trainable and non-trainable, in get_weights order
        write_model_file(
            path,
            model.get_config(),
            model.input_shape,
            comp,
            [_fetcher(be, a) for _, a in items],
            state,
            [name for name, _ in items],
            allow_nonfinite=allow_nonfinite,
        )


def _fetcher(be: Any, a: Any) -> Any:
    """A host array for ``a``, read when the writer needs it."""
    return lambda: be.to_numpy(a)
