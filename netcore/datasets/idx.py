"""Reader for the IDX file format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the data in C order (big-endian for multi-byte types).
Files may be gzip-compressed; that is detected from the content, not the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np

from .errors import DataFileError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx"]

#: Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
IMAGES_MAGIC = 0x00000803
#: Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
LABELS_MAGIC = 0x00000801

# IDX type byte -> NumPy dtype (multi-byte types are big-endian in the file).
_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# deflate cannot compress better than about 1032:1, so a gzip file claiming more payload than
# this many times its own size is truncated or lying; checked before allocating the array.
_MAX_DEFLATE_RATIO = 1100
# Bytes requested per read: gzip holds a few times this much in temporaries per request,
# so it stays small against the data and large enough to keep the loop cheap.
_CHUNK = 1 << 16
# The largest array NumPy can describe on this platform.
_MAX_ARRAY_BYTES = np.iinfo(np.intp).max


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def read_idx(path: str | os.PathLike[str], expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (plain or gzip) into a NumPy array in native byte order.

    Args:
        path: the file.
        expect_magic: when given, the file's magic number must equal it
            (e.g. :data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`).

    Returns:
        A writable array whose shape is the file's dimensions.

    Raises:
        DataFileError: wrong magic number, unknown type, bad gzip stream, or a payload whose
            length differs from what the header announces (truncated or trailing bytes).
            The message names the file.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    size_on_disk = path.stat().st_size
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw)
        try:
            return _read_stream(stream, path, size_on_disk, compressed, expect_magic)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # EOFError: gzip stream cut short; BadGzipFile: bad header or CRC; zlib: bad data.
            raise DataFileError(
                f"{path}: corrupt or truncated gzip data ({type(exc).__name__}: {exc}); "
                "delete the file and download it again"
            ) from exc
        finally:
            if compressed:
                stream.close()


def _read_stream(
    stream: BinaryIO, path: Path, size_on_disk: int, compressed: bool, expect_magic: int | None
) -> np.ndarray:
    head = _read_exact(stream, 4)
    if len(head) < 4:
        raise DataFileError(f"{path}: file too short to be an IDX file ({len(head)} bytes)")
    magic = struct.unpack(">I", head)[0]
    if head[0:2] != b"\x00\x00" or head[2] not in _DTYPES:
        raise DataFileError(
            f"{path}: not an IDX file (magic number 0x{magic:08X}"
            + (f", expected 0x{expect_magic:08X}" if expect_magic is not None else "")
            + ")"
        )
    if expect_magic is not None and magic != expect_magic:
        raise DataFileError(
            f"{path}: wrong IDX magic number 0x{magic:08X}, expected 0x{expect_magic:08X} "
            f"({_describe_magic(expect_magic)}); is this the right file?"
        )
    dtype, ndim = _DTYPES[head[2]], head[3]
    dims_raw = _read_exact(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataFileError(f"{path}: truncated IDX header (expected {ndim} dimension sizes)")
    shape = struct.unpack(f">{ndim}I", dims_raw)
    header_len = 4 + 4 * ndim
    # Python integers: no overflow however large the header's dimensions are.
    payload = math.prod(shape) * dtype.itemsize
    expected_len = header_len + payload
    if math.prod(d for d in shape if d) * dtype.itemsize > _MAX_ARRAY_BYTES:
        # An empty array is fine, but NumPy refuses any shape whose non-zero dimensions
        # multiply past its address space, even when another dimension is 0.
        raise DataFileError(
            f"{path}: corrupt header: dimensions {shape} cannot describe an array "
            f"(the non-zero dimensions alone multiply to more than {_MAX_ARRAY_BYTES} bytes)"
        )

    # Refuse impossible sizes before allocating: a corrupt header must not cost gigabytes.
    limit = size_on_disk * _MAX_DEFLATE_RATIO if compressed else size_on_disk
    if expected_len > limit:
        raise DataFileError(
            f"{path}: truncated or corrupt: header announces shape {shape} "
            f"({expected_len} bytes) but the file holds "
            + (f"at most ~{limit} bytes" if compressed else f"{size_on_disk} bytes")
        )

    out = np.empty(shape, dtype=dtype)
    view = out.reshape(-1).view(np.uint8).data
    got = 0
    while got < payload:
        # Bounded reads: gzip decompresses each request into a temporary bytes object, so
        # one request for the whole payload would hold the data twice at its peak.
        n = stream.readinto(view[got : got + _CHUNK])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    if got < payload:
        raise DataFileError(
            f"{path}: truncated: header announces shape {shape} ({expected_len} bytes) "
            f"but the data ends after {header_len + got} bytes"
        )
    extra = len(_read_exact(stream, 1))
    if extra:
        raise DataFileError(
            f"{path}: trailing bytes after the {expected_len} bytes announced by the header "
            f"(shape {shape}); the file is corrupt or not the one expected"
        )
    if not dtype.isnative:
        out.byteswap(inplace=True)  # in place: no second copy of the data
        out = out.view(dtype.newbyteorder("="))
    return out


def _describe_magic(magic: int) -> str:
    names = {IMAGES_MAGIC: "uint8 images, 3 dimensions", LABELS_MAGIC: "uint8 labels, 1 dimension"}
    return names.get(magic, "IDX")
