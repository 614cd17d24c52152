"""Exceptions raised by :mod:`netcore.datasets`.

They derive from :class:`netcore.errors.NetcoreError` and from the matching built-in
exception, so ``except ValueError`` / ``except FileNotFoundError`` keep working.
"""

from __future__ import annotations

from ..errors import NetcoreError


class DatasetError(NetcoreError):
    """Base class for dataset loading errors."""


class DataFileError(DatasetError, ValueError):
    """A data file exists but is corrupt, truncated or malformed; the message names the file."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data files were found nowhere and could not be downloaded; the message lists
    every place searched and why each download failed."""
