"""Execute the course notebooks (docs/notebooks/*.ipynb) in a real Jupyter kernel.

The kernel is this Python (``sys.executable``): its kernel spec is written into a temporary
folder and found there alone, so neither a ``python3`` spec installed elsewhere (whose
``python`` may be another interpreter) nor the user's Jupyter set-up is used, and it works on
a fresh machine with an empty HOME. The kernel imports netcore from this checkout
(``PYTHONPATH``) and runs in the notebook's folder.

``python docs/run_notebooks.py [NOTEBOOK ...]`` executes the notebooks (default: all of them)
and writes each back with its outputs, which the docs show as they are (``make docs`` does not
execute them); ``tests/test_notebooks.py`` executes them the same way and checks their outputs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "docs" / "notebooks"
KERNEL_NAME = "netcore-python"
#: Seconds one cell may run before the execution fails.
CELL_TIMEOUT = 300


def _matplotlib_folder() -> str:
    """matplotlib's folder of this user, its font cache built here first: built in a kernel,
    it could take long enough for matplotlib to warn on the cell's stderr."""
    import matplotlib
    import matplotlib.font_manager  # noqa: F401  (builds the font cache when there is none)

    return os.environ.get("MPLCONFIGDIR") or matplotlib.get_cachedir()


def kernel_env(home: Path) -> dict[str, str]:
    """The kernel's environment: this checkout first on the path, a private HOME and
    Jupyter/IPython folders, matplotlib's font cache shared with this process, and
    matplotlib left to choose the notebook's inline backend."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    paths = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        HOME=str(home),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        MPLCONFIGDIR=_matplotlib_folder(),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # the debugger's note about frozen modules
    )
    return env


def kernel_manager(folder: Path) -> Any:
    """A ``KernelManager`` for a kernel spec in ``folder`` that runs ``sys.executable``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (netcore)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def execute(path: Path, client_class: Any = None) -> tuple[Any, float]:
    """Run every cell of the notebook at ``path`` in a fresh kernel; returns the executed
    notebook and the seconds it took. A cell that raises stops it (``CellExecutionError``).
    ``client_class``: a ``NotebookClient`` subclass (a test's, to watch the messages)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="netcore-kernel-") as tmp:
        home = Path(tmp)
        km = kernel_manager(home)
        km.connection_file = str(home / "connection.json")  # not in the user's runtime folder
        # Local sockets (files in the private folder) rather than TCP ports on localhost.
        km.transport, km.ip = "ipc", str(home / "kernel")
        client = (client_class or NotebookClient)(
            nb,
            km=km,
            timeout=CELL_TIMEOUT,
            record_timing=False,  # no timestamps in the committed notebooks
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        try:
            client.execute(env=kernel_env(home))
        finally:
            if km.has_kernel:  # nbclient leaves a kernel it was given running
                km.shutdown_kernel(now=True)
        seconds = time.perf_counter() - start
    return nb, seconds


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    """Execute the notebooks named (default: all) and write each back with its outputs."""
    import nbformat

    args = list(sys.argv[1:] if argv is None else argv)
    paths = [Path(a) for a in args] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        cpu = _children_cpu_seconds()
        nb, seconds = execute(path)
        cpu = _children_cpu_seconds() - cpu  # the kernel's CPU time: what a busy machine hides
        nbformat.write(nb, path)
        print(f"{path.name}: {seconds:.1f}s ({cpu:.1f}s of CPU in the kernel)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
