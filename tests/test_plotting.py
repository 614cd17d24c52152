"""netcore.plotting: files written, inputs checked, no pyplot, a clear error without matplotlib."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plotting needs the 'plot' extra (matplotlib)")

from netcore import linear_walkthrough as lw  # noqa: E402
from netcore import plotting  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    # IHDR: width and height as big-endian uint32 at bytes 16..24
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


HIST = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.7, 0.85, 0.9],
        "val_loss": [0.8, 0.6, 0.65], "val_accuracy": [0.75, 0.8, 0.79]}


def test_plot_history_panels(tmp_path):
    both = plotting.plot_history(HIST, tmp_path / "sub" / "both.png", title="run")
    one = plotting.plot_history(HIST, tmp_path / "loss.png", metrics=("loss",))
    assert both == tmp_path / "sub" / "both.png"
    w2, h2 = png_size(both)
    w1, h1 = png_size(one)
    assert w2 > 1.5 * w1 and h1 == h2                   # one panel per metric, side by side
    assert one.stat().st_size > 5000


def test_plot_history_accepts_cli_history_json_and_single_epochs(tmp_path):
    record = {"history": {"loss": [0.3], "accuracy": [0.9]}, "epochs": [1], "test": None}
    (tmp_path / "history.json").write_text(json.dumps(record))
    path = plotting.plot_history(json.loads((tmp_path / "history.json").read_text()),
                                 tmp_path / "h.png")
    assert path.stat().st_size > 3000


def test_plot_history_rejects_what_it_cannot_draw(tmp_path):
    with pytest.raises(ValueError, match="no values for 'accuracy'"):
        plotting.plot_history({"loss": [1.0]}, tmp_path / "x.png", metrics=("accuracy",))
    with pytest.raises(ValueError, match="no metrics"):
        plotting.plot_history({}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_loss_surface_both_views(tmp_path):
    walk = lw.run_walkthrough(0.1, 5)
    m_range, b_range = lw.plot_window(walk)
    assert m_range[0] < -1 < 2 < m_range[1] and b_range[0] < 1 < 5 < b_range[1]
    paths = plotting.plot_loss_surface(lw.mse_surface, walk.path, tmp_path / "s.png",
                                       tmp_path / "c.png", m_range, b_range, minimum=lw.BEST)
    assert paths == [tmp_path / "s.png", tmp_path / "c.png"]
    for p in paths:
        assert p.stat().st_size > 20_000


def test_plot_loss_surface_with_a_path_that_leaves_the_window(tmp_path):
    walk = lw.run_walkthrough(2.0, 6)                     # diverges: points far off the plot
    m_range, b_range = lw.plot_window(walk)
    assert max(abs(v) for v in m_range + b_range) < 20   # the window stays readable
    paths = plotting.plot_loss_surface(lw.mse_surface, walk.path, None, tmp_path / "c.png",
                                       m_range, b_range)
    assert paths == [tmp_path / "c.png"]


def test_plot_activations(tmp_path):
    path = plotting.plot_activations(tmp_path / "a.png", softmax_input=[1.0, 2.0, 3.0, 4.0])
    w, h = png_size(path)
    assert w > 3 * h                                       # four panels in a row


def test_mse_surface_matches_the_course():
    assert lw.mse_surface(np.array(-1.0), np.array(5.0)) == pytest.approx(2.5)
    assert lw.mse_surface(np.array(2.0), np.array(1.0)) == pytest.approx(0.0)
    grid = lw.mse_surface(*np.meshgrid(np.linspace(-2, 4, 7), np.linspace(-1, 7, 5)))
    assert grid.shape == (5, 7) and grid.min() >= 0


def test_no_pyplot_and_no_display_needed(tmp_path):
    # Importing pyplot would pick (and pin) a GUI backend; the module must not need it.
    code = ("import sys; from netcore import plotting; "
            f"plotting.plot_activations({str(tmp_path / 'a.png')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MPLBACKEND": "TkAgg",
           "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch, tmp_path):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plotting.PlottingUnavailableError, match=r"pip install 'netcore\[plot\]'"):
        plotting.plot_activations(tmp_path / "a.png")
    with pytest.raises(ImportError):                       # still an ImportError for callers
        plotting.plot_history(HIST, tmp_path / "h.png")
    assert not list(tmp_path.iterdir())
