"""What every picture shares: the matplotlib check, a pyplot-free figure, writing the PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

INSTALL_HINT = "pip install 'netcore[plot]'"


class PlottingUnavailableError(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    """Raise :class:`PlottingUnavailableError` (with the install command) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise PlottingUnavailableError(
            f"plotting needs matplotlib, which is not installed ({exc}): {INSTALL_HINT}"
        ) from None


def new_figure(width: float, height: float) -> Any:
    """A ``matplotlib.figure.Figure`` of ``width`` x ``height`` inches, never a pyplot one."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` as PNG (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # optimize: smaller files for the pictures committed with the docs, at no visible cost.
    fig.savefig(path, format="png", pil_kwargs={"optimize": True})
    return path
