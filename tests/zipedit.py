"""Build and damage model files at the byte level: the zip and .npy layouts written out here,
independently of netcore.saving, so the tests do not trust the code they check."""

import io
import struct
import zipfile

import numpy as np

# Field offsets (bytes) in a zip local file header ("PK\x03\x04") and central directory entry
# ("PK\x01\x02"), from the ZIP specification (APPNOTE 4.3.7 and 4.3.12).
LOCAL = {
    "flags": (6, "<H"),
    "method": (8, "<H"),
    "crc": (14, "<I"),
    "csize": (18, "<I"),
    "usize": (22, "<I"),
}
CENTRAL = {
    "flags": (8, "<H"),
    "method": (10, "<H"),
    "crc": (16, "<I"),
    "csize": (20, "<I"),
    "usize": (24, "<I"),
    "offset": (42, "<I"),
}


def members(path):
    """{name: bytes} of every member, in archive order."""
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_members(path, items, compression=zipfile.ZIP_STORED):
    """A zip holding ``items`` ((name, bytes) pairs or a dict) with valid CRCs and sizes."""
    pairs = items.items() if isinstance(items, dict) else items
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in pairs:
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


def npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header_only(descr, shape, fortran=False, payload=b""):
    """An .npy file whose header says ``descr``/``shape`` followed by ``payload`` bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}
    )
    return buf.getvalue() + payload


def entries(raw):
    """Offsets of each member's local header and central entry: {name: (local, central)}."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        locals_ = {i.filename: i.header_offset for i in zf.infolist()}
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        nlen, xlen, clen = struct.unpack_from("<HHH", raw, pos + 28)
        name = raw[pos + 46 : pos + 46 + nlen].decode()
        out[name] = (locals_[name], pos)
        pos = raw.find(b"PK\x01\x02", pos + 46 + nlen + xlen + clen)
    return out


def set_field(raw, name, field, value, where=("local", "central")):
    """``raw`` with ``field`` of member ``name`` set to ``value`` in its local and/or central header."""
    raw = bytearray(raw)
    local, central = entries(bytes(raw))[name]
    if "local" in where and field in LOCAL:
        off, fmt = LOCAL[field]
        struct.pack_into(fmt, raw, local + off, value)
    if "central" in where and field in CENTRAL:
        off, fmt = CENTRAL[field]
        struct.pack_into(fmt, raw, central + off, value)
    return bytes(raw)


def data_span(raw, name):
    """(start, end) of member ``name``'s stored bytes."""
    local, _ = entries(raw)[name]
    nlen, xlen = struct.unpack_from("<HH", raw, local + 26)
    csize = struct.unpack_from("<I", raw, local + 18)[0]
    start = local + 30 + nlen + xlen
    return start, start + csize
