"""Deprecated: the linear walk-through lives in :mod:`netcore.course.linear`.

``import netcore.linear_walkthrough`` keeps working and gives the same objects, with a
DeprecationWarning.
"""

from __future__ import annotations

import warnings

from .course.linear import *  # noqa: F401,F403  (the re-export is this module's job)
from .course.linear import __all__  # noqa: F401

warnings.warn(
    "netcore.linear_walkthrough is deprecated: import netcore.course.linear instead",
    DeprecationWarning,
    stacklevel=2,
)
