"""What every picture shares: the matplotlib check, a pyplot-free figure, writing the PNG or
handing the figure back (shown inline when it is a notebook cell's value)."""

from __future__ import annotations

import functools
import io
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


@functools.cache
def _figure_class() -> Any:
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        """A ``Figure`` that a notebook draws as a PNG when a cell returns it, with no pyplot
        and no ``%matplotlib inline`` (IPython asks objects for ``_repr_png_``)."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    return InlineFigure


def new_figure(width: float, height: float) -> Any:
    """A ``matplotlib.figure.Figure`` of ``width`` x ``height`` inches, never a pyplot one."""
    require_matplotlib()
    return _figure_class()(figsize=(width, height), dpi=100, layout="constrained")


def save_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` as PNG (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # optimize: smaller files for the pictures committed with the docs, at no visible cost.
    fig.savefig(path, format="png", pil_kwargs={"optimize": True})
    return path


def finish(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    """What every ``plot_*`` returns: with a ``path``, the PNG written there (its
    :class:`~pathlib.Path`); without one, the ``Figure`` itself, which a notebook draws inline
    and a script can save with ``fig.savefig(...)``."""
    return fig if path is None else save_png(fig, path)
