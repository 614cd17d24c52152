"""The current distribution of this process: what ``fit``/``evaluate``/``predict`` use.

It holds a :class:`~._data_parallel.DataParallel` (checked by ``set_distribution``) or None,
and imports nothing, so the trainer and ``DataParallel.scope`` can both reach it."""

from __future__ import annotations

from typing import Any

_current: Any = None


def set_current(value: Any) -> None:
    """Make ``value`` (a checked ``DataParallel``, or None) the current distribution."""
    global _current
    _current = value


def get_distribution() -> Any:
    """The current distribution, or None (training in this process alone)."""
    return _current


def distribution() -> Any:
    """Keras 3's name for :func:`get_distribution`."""
    return _current


def active() -> Any:
    """The current distribution when it spans more than one process, else None: the
    trainer's one test for taking the data-parallel path."""
    return _current if _current is not None and _current.world_size > 1 else None


def is_chief() -> bool:
    """True on rank 0 and outside any distribution: the process that prints and writes."""
    return _current is None or _current.is_chief
