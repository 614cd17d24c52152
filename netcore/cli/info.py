"""``netcore info``: versions, backends, the GPU and the CUDA simulator setting."""

from __future__ import annotations

import argparse
import os

import numpy as np

from ._common import _say


def _dist_version(*names: str, show_name: bool = False) -> str | None:
    """The installed version of the first distribution found among ``names``."""
    from importlib import metadata

    for name in names:
        try:
            version = metadata.version(name)
            return f"{version} ({name})" if show_name else version
        except metadata.PackageNotFoundError:
            continue
    return None


def info_lines() -> list[str]:
    """What ``netcore info`` prints."""
    import platform

    from .. import __version__, backend_status
    from ..backend.cuda import simulator_enabled
    from ..backend.report import CUPY_DISTRIBUTIONS, device_report

    lines = [
        f"netcore {__version__} (Python {platform.python_version()}, NumPy {np.__version__})",
        "Backends:",
    ]
    for name, (ok, reason) in backend_status().items():
        lines.append(f"  {name:<5} {'available' if ok else 'unavailable'}: {reason}")
    lines += device_report().lines()
    lines.append(f"CuPy: {_dist_version(*CUPY_DISTRIBUTIONS, show_name=True) or 'not installed'}")
    lines.append(f"numba: {_dist_version('numba') or 'not installed'}")
    lines.append(f"numba-cuda: {_dist_version('numba-cuda') or 'not installed'}")
    sim = os.environ.get("NUMBA_ENABLE_CUDASIM", "")
    lines.append(
        f"CUDA simulator: {'ON' if simulator_enabled() else 'off'} "
        f"(NUMBA_ENABLE_CUDASIM={sim if sim else 'unset'})"
    )
    env = os.environ.get("NETCORE_BACKEND")
    lines.append(
        f"Default backend: {env or 'auto'}"
        + (" (from NETCORE_BACKEND)" if env else " (NETCORE_BACKEND unset)")
    )
    lines.append(
        f"Plotting: matplotlib {_dist_version('matplotlib') or 'not installed: pip install netcore[plot]'}"
    )
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    """``netcore info``: versions, backends and the GPU."""
    for line in info_lines():
        _say(line)
    return 0
