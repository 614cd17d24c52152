"""Sphinx configuration: Markdown pages through MyST, API reference from the docstrings."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import netcore  # noqa: E402

project = "netcore"
author = "the netcore developers"
release = version = netcore.__version__
extensions = [
    "myst_nb",  # Markdown pages (MyST) and the course notebooks, shown with their outputs
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
# The notebooks are shown as committed, with the outputs docs/run_notebooks.py wrote; the
# tests execute them (tests/test_notebooks.py), so the build stays fast.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_static_path: list[str] = []
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = True
nitpicky = False
suppress_warnings = ["myst.header"]


def _generate_pictures(app: Any) -> None:
    """The tutorial's pictures are made here, at build time, by the code blocks beside them
    (docs/make_figures.py runs the page and refreshes docs/_static/tutorial/)."""
    sys.path.insert(0, str(ROOT / "docs"))
    from make_figures import main

    main([])


def setup(app: Any) -> None:
    app.connect("builder-inited", _generate_pictures)
