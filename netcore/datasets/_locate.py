"""Where dataset files are looked for, and how missing ones are downloaded.

Search order for a dataset ``<name>`` (first folder holding all needed files wins):

1. ``$NETCORE_DATA/<name>/`` then ``$NETCORE_DATA/`` itself (``NETCORE_DATA`` may list several
   folders separated by ``os.pathsep``);
2. the cache, ``$XDG_CACHE_HOME/netcore/<name>/`` or, when that variable is unset,
   ``~/.cache/netcore/<name>/``;
3. system folders, ``/usr/share/datasets/<name>/`` (where Debian's ``dataset-*`` packages
   install data);
4. a download from the dataset's mirrors into the cache, verified by SHA-256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

ENV_VAR = "NETCORE_DATA"
#: System-wide data folders, searched after the cache (a module attribute so tests can swap it).
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
#: Seconds a download may stall before the mirror counts as unreachable.
TIMEOUT_S = 60.0


def cache_root() -> Path:
    """The netcore cache folder: ``$XDG_CACHE_HOME/netcore`` or ``~/.cache/netcore``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "netcore"


def search_dirs(name: str, path: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The folders searched for dataset ``name``, in order, each with a short label.

    With ``path``: that folder and its ``<name>/`` subfolder only. Without: the default order
    of this module's docstring (``$NETCORE_DATA``, the cache, the system folders).
    """
    if path is not None:
        p = Path(path).expanduser()
        return [("path", p), (f"path/{name}", p / name)]
    out: list[tuple[str, Path]] = []
    for root in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
        root_path = Path(root).expanduser()
        out.append((f"${ENV_VAR}/{name}", root_path / name))
        out.append((f"${ENV_VAR}", root_path))
    out.append(("cache", cache_root() / name))
    out.extend(("system", d / name) for d in SYSTEM_DIRS)
    return out


@dataclass(frozen=True)
class Search:
    """The outcome of :func:`search`: the files found (in the order asked), or None; and one
    line per folder that did not hold them all, saying what it lacked."""

    found: tuple[Path, ...] | None
    searched: tuple[str, ...]


def search(
    name: str,
    wanted: Sequence[Sequence[str]],
    path: str | os.PathLike[str] | None = None,
) -> Search:
    """Find every file in ``wanted`` in ONE folder, trying the folders of :func:`search_dirs`.

    Each entry of ``wanted`` lists the accepted relative names of one file, preferred first
    (``("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte")``); the first folder holding
    some spelling of every file wins. This is the one search loop of every dataset.
    """
    searched: list[str] = []
    for i, (label, folder) in enumerate(search_dirs(name, path), start=1):
        found = [
            next((folder / c for c in names if (folder / c).is_file()), None) for names in wanted
        ]
        if all(f is not None for f in found):
            return Search(tuple(f for f in found if f is not None), tuple(searched))
        why = (
            "no such folder"
            if not folder.is_dir()
            else "lacks "
            + " and ".join(_shown(names) for names, f in zip(wanted, found) if f is None)
        )
        searched.append(f"{i}. {label}: {folder}  ({why})")
    return Search(None, tuple(searched))


def _shown(names: Sequence[str]) -> str:
    """``("a.gz", "a", ...)`` -> ``"a[.gz]"``; else the preferred name."""
    first = names[0]
    if first.endswith(".gz") and len(names) > 1 and names[1] == first[:-3]:
        return f"{first[:-3]}[.gz]"
    return first


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, out: BinaryIO, *, desc: str) -> None:
    """Stream ``url`` into the open binary file ``out`` with a tqdm progress bar.

    This is the only function that touches the network; tests replace it.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "netcore-datasets"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        # disable=None: the bar shows on a terminal and stays out of CI logs.
        with tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=None
        ) as bar:
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))


class DownloadFailed(Exception):
    """Every mirror failed; ``reasons`` holds one line per attempt."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def download(filename: str, mirrors: Sequence[str], sha256: str, dest_dir: Path) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right SHA-256.

    The bytes go to a temporary file in ``dest_dir`` that is renamed into place only after
    the checksum matched, so an interrupted or corrupt download never leaves a file that
    looks complete. Raises :class:`DownloadFailed` listing each mirror's failure.
    """
    reasons: list[str] = []
    # Folders this call creates, removed again if nothing lands in them.
    created = [d for d in (dest_dir, *dest_dir.parents) if not d.exists()]
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadFailed([f"cannot create {dest_dir}: {exc}"]) from exc
    try:
        return _download_into(filename, mirrors, sha256, dest_dir, reasons)
    except BaseException:
        for d in created:  # deepest first
            try:
                d.rmdir()
            except OSError:
                break  # not empty (or not ours to remove): stop climbing
        raise


def _download_into(
    filename: str, mirrors: Sequence[str], sha256: str, dest_dir: Path, reasons: list[str]
) -> Path:
    for base in mirrors:
        url = base + filename
        try:
            fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".part")
        except OSError as exc:
            raise DownloadFailed(reasons + [f"cannot write to {dest_dir}: {exc}"]) from exc
        tmp: Path | None = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                fetch(url, out, desc=filename)
                out.flush()
                os.fsync(out.fileno())
            digest = sha256_file(tmp)  # type: ignore[arg-type]
            if digest != sha256:
                reasons.append(
                    f"{url}: SHA-256 mismatch (got {digest}, expected {sha256}); "
                    "the download was discarded"
                )
                continue
            final = dest_dir / filename
            os.replace(tmp, final)  # type: ignore[arg-type]
            tmp = None
            return final
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # URLError, HTTPError and socket timeouts are all OSErrors.
            reasons.append(f"{url}: {_describe(exc)}")
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    raise DownloadFailed(reasons or ["no mirror configured"])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"network error: {exc.reason} (offline?)"
    return f"{type(exc).__name__}: {exc}"
