"""netcore.plotting: files written, inputs checked, no pyplot, a clear error without matplotlib."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plotting needs the 'plot' extra (matplotlib)")

from netcore import plotting  # noqa: E402
from netcore.course import linear as lw  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    # IHDR: width and height as big-endian uint32 at bytes 16..24
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


HIST = {
    "loss": [0.9, 0.5, 0.4],
    "accuracy": [0.7, 0.85, 0.9],
    "val_loss": [0.8, 0.6, 0.65],
    "val_accuracy": [0.75, 0.8, 0.79],
}


def test_plot_history_panels(tmp_path):
    both = plotting.plot_history(HIST, tmp_path / "sub" / "both.png", title="run")
    one = plotting.plot_history(HIST, tmp_path / "loss.png", metrics=("loss",))
    assert both == tmp_path / "sub" / "both.png"
    w2, h2 = png_size(both)
    w1, h1 = png_size(one)
    assert w2 > 1.5 * w1 and h1 == h2  # one panel per metric, side by side
    assert one.stat().st_size > 5000


def test_plot_history_accepts_cli_history_json_and_single_epochs(tmp_path):
    record = {"history": {"loss": [0.3], "accuracy": [0.9]}, "epochs": [1], "test": None}
    (tmp_path / "history.json").write_text(json.dumps(record))
    path = plotting.plot_history(
        json.loads((tmp_path / "history.json").read_text()), tmp_path / "h.png"
    )
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
    paths = plotting.plot_loss_surface(
        lw.mse_surface,
        walk.path,
        tmp_path / "s.png",
        tmp_path / "c.png",
        m_range,
        b_range,
        minimum=lw.BEST,
    )
    assert paths == [tmp_path / "s.png", tmp_path / "c.png"]
    for p in paths:
        assert p.stat().st_size > 20_000


def test_plot_loss_surface_with_a_path_that_leaves_the_window(tmp_path):
    walk = lw.run_walkthrough(2.0, 6)  # diverges: points far off the plot
    m_range, b_range = lw.plot_window(walk)
    assert max(abs(v) for v in m_range + b_range) < 20  # the window stays readable
    paths = plotting.plot_loss_surface(
        lw.mse_surface, walk.path, None, tmp_path / "c.png", m_range, b_range
    )
    assert paths == [tmp_path / "c.png"]


def test_plot_activations(tmp_path):
    path = plotting.plot_activations(tmp_path / "a.png", softmax_input=[1.0, 2.0, 3.0, 4.0])
    w, h = png_size(path)
    assert w > 3 * h  # four panels in a row


def test_mse_surface_matches_the_course():
    assert lw.mse_surface(np.array(-1.0), np.array(5.0)) == pytest.approx(2.5)
    assert lw.mse_surface(np.array(2.0), np.array(1.0)) == pytest.approx(0.0)
    grid = lw.mse_surface(*np.meshgrid(np.linspace(-2, 4, 7), np.linspace(-1, 7, 5)))
    assert grid.shape == (5, 7) and grid.min() >= 0


def test_no_pyplot_and_no_display_needed(tmp_path):
    # Importing pyplot would pick (and pin) a GUI backend; the module must not need it.
    code = (
        "import sys; from netcore import plotting; "
        f"plotting.plot_activations({str(tmp_path / 'a.png')!r}); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "MPLBACKEND": "TkAgg",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
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
    with pytest.raises(ImportError):  # still an ImportError for callers
        plotting.plot_history(HIST, tmp_path / "h.png")
    assert not list(tmp_path.iterdir())


# --- The course pictures. The figure is captured as it is saved, so a test can read what the
# picture says (captions, legend, scales, the plotted values), not only that a file exists.


@pytest.fixture
def saved(monkeypatch):
    """The figures written through ``save_png``, in order (the PNG is still written)."""
    from netcore.plotting import _base

    figures = []
    real = _base.save_png

    def keep(fig, path):
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(_base, "save_png", keep)
    return figures


def captions(fig):
    return [(ax.get_xlabel(), ax.xaxis.label.get_color()) for ax in fig.axes if ax.images]


IMAGES = np.random.default_rng(0).integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
LABELS = np.arange(30) % 10


def test_plot_samples_captions_each_image_with_its_class_name(tmp_path, saved):
    names = [f"class {k}" for k in range(10)]
    path = plotting.plot_samples(IMAGES, LABELS, tmp_path / "s.png", class_names=names)
    assert path == tmp_path / "s.png" and path.stat().st_size > 10_000
    fig = saved[-1]
    assert [c for c, _ in captions(fig)] == [names[k] for k in LABELS[:25]]  # n=25 by default
    assert "25 of 30" in fig._suptitle.get_text()
    shown = [ax for ax in fig.axes if ax.images]
    np.testing.assert_array_equal(shown[3].images[0].get_array(), IMAGES[3])


def test_plot_samples_takes_flat_images_one_hot_labels_and_a_small_n(tmp_path, saved):
    one_hot = np.eye(10)[LABELS]
    plotting.plot_samples(
        IMAGES.reshape(30, 784) / 255, one_hot, tmp_path / "s.png", n=4, title="four digits"
    )
    fig = saved[-1]
    assert [c for c, _ in captions(fig)] == ["0", "1", "2", "3"]
    assert fig._suptitle.get_text() == "four digits"
    assert [ax for ax in fig.axes if ax.images][0].images[0].get_array().shape == (28, 28)


def test_plot_samples_shares_one_grey_scale_and_ignores_nan_pixels(tmp_path, saved):
    images = np.zeros((2, 4, 4))
    images[0, 0, 0], images[1, 0, 0], images[1, 1, 1] = 0.5, 1.0, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plotting.plot_samples(images, [0, 1], tmp_path / "s.png")
    shown = [ax.images[0] for ax in saved[-1].axes if ax.images]
    assert [im.get_clim() for im in shown] == [(0.0, 1.0), (0.0, 1.0)]


def test_plot_samples_rejects_what_it_cannot_draw(tmp_path):
    with pytest.raises(ValueError, match=r"y must hold one label .* 30 labels, received .*\(29,\)"):
        plotting.plot_samples(IMAGES, LABELS[:29], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"x must be a batch of images.*\(30, 783\)"):
        plotting.plot_samples(IMAGES.reshape(30, 784)[:, :783], LABELS, tmp_path / "x.png")
    with pytest.raises(ValueError, match="n must be a positive integer, received 0"):
        plotting.plot_samples(IMAGES, LABELS, tmp_path / "x.png", n=0)
    with pytest.raises(ValueError, match="class_names must name every label: it has 3 names"):
        plotting.plot_samples(IMAGES, LABELS, tmp_path / "x.png", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="x must hold at least one image, received an empty batch"):
        plotting.plot_samples(IMAGES[:0], LABELS[:0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="y must be integer labels or rows of class scores"):
        plotting.plot_samples(IMAGES[:2], np.array(["cat", "dog"]), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_predictions_marks_each_mistake_with_the_true_label(tmp_path, saved):
    pred = LABELS.copy()
    pred[[1, 7]] = [5, 0]  # two mistakes among the first 9
    probs = np.eye(10)[pred] * 0.9 + 0.01  # what predict returns: rows of p
    plotting.plot_predictions(IMAGES, LABELS, probs, tmp_path / "p.png", n=9)
    fig = saved[-1]
    caps = captions(fig)
    assert caps[1][0] == "5 (true 1)" and caps[7][0] == "0 (true 7)"
    assert caps[0][0] == "0"
    red = [i for i, (_, colour) in enumerate(caps) if colour == "red"]
    assert red == [1, 7]
    assert "2 wrong" in fig._suptitle.get_text()


def test_plot_predictions_names_classes_and_checks_prediction_count(tmp_path, saved):
    letters = list("ABCDEFGHIJ")
    plotting.plot_predictions(
        IMAGES, LABELS, (LABELS + 1) % 10, tmp_path / "p.png", class_names=letters, n=2
    )
    assert [c for c, _ in captions(saved[-1])] == ["B (true A)", "C (true B)"]
    with pytest.raises(ValueError, match="y_pred must hold one label"):
        plotting.plot_predictions(IMAGES, LABELS, LABELS[:10], tmp_path / "x.png")


def test_overfitting_example_high_degree_fit_wins_on_training_and_loses_on_validation():
    ex = plotting.overfitting_example(seed=0)
    # Independent reference: NumPy's least-squares polyfit of the same training points.
    for line in (ex.simple, ex.flexible):
        ref = np.polyfit(ex.x_train, ex.y_train, line.degree)
        np.testing.assert_allclose(
            line.polynomial(ex.x_valid), np.polyval(ref, ex.x_valid), rtol=1e-6, atol=1e-6
        )
        assert line.valid_mse == pytest.approx(
            np.mean((np.polyval(ref, ex.x_valid) - ex.y_valid) ** 2), rel=1e-5
        )
    assert ex.flexible.degree == len(ex.x_train) - 1
    assert ex.flexible.train_mse < 1e-12 < ex.simple.train_mse  # through every training point
    assert ex.flexible.valid_mse > 1.5 * ex.simple.valid_mse  # and worse on new points


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n": 1}, r"n must be an integer of at least 2, received 1"),
        ({"n": 2.5}, r"n must be an integer of at least 2, received 2.5"),
        (
            {"high_degree": 10},
            r"high_degree must be an integer in \[1, n - 1\] = \[1, 9\], received 10",
        ),
        (
            {"high_degree": 0},
            r"high_degree must be an integer in \[1, n - 1\] = \[1, 9\], received 0",
        ),
        ({"noise": -0.1}, r"noise must be a finite number of at least 0, received -0.1"),
        ({"noise": float("nan")}, r"noise must be a finite number of at least 0, received nan"),
    ],
)
def test_overfitting_example_refuses_bad_sizes_and_noise_by_name(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before NumPy could warn about the fit
        with pytest.raises(ValueError, match=message):
            plotting.overfitting_example(**kwargs)


def test_overfitting_example_accepts_the_edges_of_its_ranges():
    ex = plotting.overfitting_example(n=2, high_degree=1, noise=0)
    np.testing.assert_allclose(ex.y_train, 1 + 2 * ex.x_train)  # no noise: on the line
    assert ex.flexible.degree == 1


def test_plot_overfitting_states_both_errors_of_both_fits(tmp_path, saved):
    path = plotting.plot_overfitting(tmp_path / "o.png", seed=0)
    assert path.stat().st_size > 10_000
    ex = plotting.overfitting_example(seed=0)
    ax = saved[-1].axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for line in (ex.simple, ex.flexible):
        assert any(
            f"training MSE {line.train_mse:.3f}" in t
            and f"validation MSE {line.valid_mse:.3f}" in t
            for t in legend
        )
    assert ax.get_title().startswith("Which trendline is better?")
    low, high = ax.get_ylim()
    every_y = np.concatenate([ex.y_train, ex.y_valid])
    assert low < every_y.min() and every_y.max() < high  # every point is shown


def test_plot_xent_draws_minus_log_p_against_squared_error(tmp_path, saved):
    plotting.plot_xent(tmp_path / "x.png")
    ax = saved[-1].axes[0]
    curves = {
        line.get_label().split()[0]: line
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }
    p = curves["cross-entropy"].get_xdata()
    assert p[0] == 1.0 and p.min() < 0.01
    np.testing.assert_allclose(
        curves["cross-entropy"].get_ydata(), -np.log(np.maximum(p, 1e-7)), atol=1e-6
    )
    np.testing.assert_allclose(curves["squared"].get_ydata(), (1 - p) ** 2, atol=1e-12)
    left, right = ax.get_xlim()
    assert left == 1.0 and right == 0.0  # from right to wrong


def test_plot_linear_fit_draws_the_current_line_and_a_linear_loss_axis(tmp_path, saved):
    walk = lw.run_walkthrough(0.1, 5)
    path = plotting.plot_linear_fit(walk, tmp_path / "l.png")
    assert path.stat().st_size > 10_000
    fit, loss = saved[-1].axes
    last = walk.steps[-1]
    current = next(line for line in fit.get_lines() if line.get_label().startswith("after 5"))
    xs = current.get_xdata()
    np.testing.assert_allclose(current.get_ydata(), last.m * xs + last.b)
    data = next(line for line in fit.get_lines() if line.get_label() == "data")
    np.testing.assert_array_equal(data.get_xdata(), lw.X)
    assert loss.get_ylabel() == "MSE"  # 2.5 down to 1.56: no log scale
    np.testing.assert_allclose(loss.get_lines()[0].get_ydata(), [s.mse for s in walk.steps])


def test_plot_linear_fit_blow_up_on_a_log_axis_with_every_step_inside(tmp_path, saved):
    walk = lw.run_walkthrough(2.0, 4)
    plotting.plot_linear_fit(walk, tmp_path / "l.png")
    loss = saved[-1].axes[1]
    assert loss.get_ylabel() == "MSE (log scale)"
    log_mse = np.log10([s.mse for s in walk.steps])  # 2.5, 112.5, ... 4.7e8
    np.testing.assert_allclose(loss.get_lines()[0].get_ydata(), log_mse)
    low, high = loss.get_ylim()
    assert low <= log_mse.min() and log_mse.max() <= high
    assert loss.yaxis.get_major_formatter()(8.0, 0) == "$10^{8}$"
    assert "overshoot" in loss.get_title()


def test_plot_linear_fit_of_an_overflowing_run_draws_every_finite_step_without_warnings(
    tmp_path, saved
):
    walk = lw.run_walkthrough(50.0, 200)  # the loss reaches inf
    mse = np.array([s.mse for s in walk.steps])
    assert not np.isfinite(mse).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plotting.plot_linear_fit(walk, tmp_path / "l.png")
    loss = saved[-1].axes[1]
    assert len(loss.get_lines()[0].get_ydata()) == np.isfinite(mse).sum()
    assert any("overflowed" in t.get_text() for t in loss.texts)


def test_plot_linear_fit_before_any_step_says_so(tmp_path, saved):
    plotting.plot_linear_fit(lw.run_walkthrough(0.1, 0), tmp_path / "l.png")
    assert "no update yet" in saved[-1].axes[1].get_title()


def test_plot_history_takes_the_history_object_fit_returns(tmp_path):
    from netcore.callbacks import History

    history = History()
    for epoch, logs in enumerate([{"loss": 0.9, "val_loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}]):
        history.on_epoch_end(epoch, logs)
    path = plotting.plot_history(history, tmp_path / "h.png")
    assert path.stat().st_size > 5000
    with pytest.raises(TypeError, match="history must be a History .* received list"):
        plotting.plot_history([0.9, 0.5], tmp_path / "x.png")


@pytest.mark.parametrize(
    "draw",
    [
        lambda p: plotting.plot_samples(IMAGES, LABELS, p),
        lambda p: plotting.plot_predictions(IMAGES, LABELS, LABELS, p),
        lambda p: plotting.plot_overfitting(p),
        lambda p: plotting.plot_xent(p),
        lambda p: plotting.plot_linear_fit(lw.run_walkthrough(0.1, 1), p),
    ],
    ids=["samples", "predictions", "overfitting", "xent", "linear_fit"],
)
def test_course_pictures_without_matplotlib_say_how_to_install(draw, monkeypatch, tmp_path):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plotting.PlottingUnavailableError, match=r"pip install 'netcore\[plot\]'"):
        draw(tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def _every_picture_without_a_path():
    import netcore.course.linear as lw
    from netcore import plotting
    from netcore.layers import RandomFlip

    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28))
    labels = np.array([0, 1, 2, 3])
    walk = lw.run_walkthrough(learning_rate=0.1, steps=3)
    m_range, b_range = lw.plot_window(walk)
    from netcore.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from netcore.models import Sequential

    cnn = Sequential(
        [Conv2D(4, 3, input_shape=(8, 8, 1)), MaxPooling2D(), Flatten(), Dense(2)],
        backend="cpu",
        seed=0,
    )
    return {
        "plot_filters": lambda: plotting.plot_filters(cnn),
        "plot_feature_maps": lambda: plotting.plot_feature_maps(cnn, rng.random((8, 8, 1))),
        "plot_history": lambda: plotting.plot_history({"loss": [1.0, 0.5], "val_loss": [1, 0.7]}),
        "plot_samples": lambda: plotting.plot_samples(images, labels),
        "plot_predictions": lambda: plotting.plot_predictions(images, labels, labels[::-1]),
        "plot_activations": lambda: plotting.plot_activations(),
        "plot_xent": lambda: plotting.plot_xent(),
        "plot_overfitting": lambda: plotting.plot_overfitting(),
        "plot_linear_fit": lambda: plotting.plot_linear_fit(walk),
        "plot_loss_surface": lambda: plotting.plot_loss_surface(
            lw.mse_surface, walk.path, None, None, m_range, b_range
        ),
        "plot_augmented": lambda: plotting.plot_augmented(images[0], RandomFlip()),
    }


@pytest.mark.parametrize("name", sorted(_every_picture_without_a_path()))
def test_every_plot_without_a_file_name_returns_the_figure_a_notebook_draws(
    name, tmp_path, monkeypatch
):
    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    from netcore import plotting

    monkeypatch.chdir(tmp_path)
    result = _every_picture_without_a_path()[name]()
    figures = result if name == "plot_loss_surface" else [result]
    assert len(figures) == (2 if name == "plot_loss_surface" else 1)
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
        data, _ = DisplayFormatter().format(fig)  # what IPython shows for a cell's value
        png = data["image/png"]
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert list(tmp_path.iterdir()) == []  # nothing written
    # every plot_* of the package is covered here
    assert {n for n in plotting.__all__ if n.startswith("plot_")} == set(
        _every_picture_without_a_path()
    )
