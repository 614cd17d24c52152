"""``netcore linear`` and ``netcore plot ...``: the course's pictures, drawn by netcore.plotting."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..saving.loader import load_model
from ._common import HISTORY_FILE, CLIError, _out_dir, _say, _try_plots
from ._data import _limited, _prep, _split

if TYPE_CHECKING:
    from ..datasets import TrainingData


def cmd_linear(args: argparse.Namespace) -> int:
    """``netcore linear``: the y = m x + b walk-through, then its pictures."""
    from ..course import linear

    out = _out_dir(args.out)
    walk = linear.run_walkthrough(args.learning_rate, args.steps)
    for line in linear.report_lines(walk):
        _say(line)

    def draw() -> list[Path]:
        from ..plotting import plot_linear_fit, plot_loss_surface

        m_range, b_range = linear.plot_window(walk)
        # A diverging run reaches losses near the float limit on purpose; drawing them on a
        # log axis overflows inside matplotlib's tick arithmetic, which changes no pixel.
        with np.errstate(over="ignore", invalid="ignore"):
            fit = plot_linear_fit(walk, out / "linear_fit.png")
        return [
            fit,
            *plot_loss_surface(
                linear.mse_surface,
                walk.path,
                out / "loss_surface.png",
                out / "loss_contour.png",
                m_range,
                b_range,
                minimum=linear.BEST,
                title=f"MSE of y-hat = m x + b, learning rate {args.learning_rate:g}",
            ),
        ]

    written = _try_plots(draw)
    if written:
        _say("")
        _say("Wrote " + ", ".join(str(p) for p in written))
    return 0


# --------------------------------------------------------------------------- plot
def cmd_plot_samples(args: argparse.Namespace) -> int:
    """``netcore plot samples``: the first images of a data set with their labels."""
    from .. import datasets
    from ..plotting import plot_samples

    # Never a download just to draw a few images: local files, else the shipped MNIST.
    data = datasets.load(args.dataset, args.data, download=False)
    out = _out_dir(args.out)
    for note in data.notes:
        _say(f"Note: {note}.")
    path = plot_samples(
        data.x_train,
        data.y_train,
        out / "samples.png",
        class_names=data.class_names,
        n=args.n,
        title=f"{data.title}: the first {min(args.n, len(data.x_train))} "
        f"{'test-set' if data.from_test_set else 'training'} images "
        "and their labels",
    )
    _say(f"Wrote {path}")
    return 0


def _validation_set(
    model_file: Path, data_path: str | None
) -> tuple[TrainingData, np.ndarray, np.ndarray]:
    """The data and validation images a ``netcore train`` run used, from its history.json."""
    from .. import datasets

    record_file = model_file.parent / HISTORY_FILE
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(
            f"cannot read {record_file} ({exc}): 'netcore plot predictions' needs "
            "the history.json that 'netcore train' writes beside the model"
        ) from exc
    info, config = _run_record(record, record_file)
    if info.get("origin") == "bundled" and data_path is None:
        x, y = datasets.mnist.load_bundled_test()
        data = datasets.TrainingData("mnist", 10, x, y, from_test_set=True, source="bundled")
    else:
        data = datasets.load(info["dataset"], data_path or info.get("source"))
    x_pool, y_pool = _limited(data.x_train, data.y_train, config.get("limit"), config["seed"])
    _, _, x_val, y_val = _split(x_pool, y_pool, config["validation_split"], config["seed"])
    if x_val is None or y_val is None:  # trained without validation: show the test images
        if data.x_test is None or data.y_test is None:
            raise CLIError(f"the run in {model_file.parent} had no validation or test images")
        return data, data.x_test, data.y_test
    return data, x_val, y_val


def _saved_model_file(path: str, cnn: bool = False) -> Path:
    model_file = Path(path).expanduser()
    if not model_file.is_file():
        raise CLIError(
            f"model file {model_file} does not exist; train one with "
            f"'netcore train ...{' --model cnn' if cnn else ''} --out DIR' "
            "(it writes DIR/model.netcore)"
        )
    return model_file


#: the fields of history.json that ``plot predictions`` reads: (section, key, types, what);
#: those that may be null may also be missing
_RECORD_FIELDS = (
    ("data", "dataset", (str,), "a data set name"),
    ("data", "source", (str, type(None)), "a path or null"),
    ("data", "origin", (str, type(None)), "a string or null"),
    ("config", "seed", (int,), "a non-negative integer"),
    ("config", "limit", (int, type(None)), "a positive integer or null"),
    ("config", "validation_split", (int, float), "a number in [0, 1)"),
)


def _run_record(record: object, record_file: Path) -> tuple[dict, dict]:
    """``record["data"]`` and ``record["config"]``, after checking every field read from them;
    a damaged or hand-edited file is a CLIError naming the file and the field."""

    def bad(field: str, expected: str, got: object) -> CLIError:
        return CLIError(
            f"{record_file} is damaged: {field} must be {expected}, received {got!r:.80}; "
            "rerun 'netcore train' to write it again"
        )

    if not isinstance(record, dict):
        raise bad("the file", "a JSON object", record)
    for section in ("data", "config"):
        if not isinstance(record.get(section), dict):
            raise bad(f'"{section}"', "an object", record.get(section, "nothing (missing)"))
    for section, key, types, expected in _RECORD_FIELDS:
        field = f'"{section}"."{key}"'
        if key not in record[section]:
            if type(None) not in types:
                raise bad(field, expected, "nothing (missing)")
            continue
        value = record[section][key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise bad(field, expected, value)
    split = record["config"]["validation_split"]
    if not 0 <= split < 1:
        raise bad('"config"."validation_split"', "a number in [0, 1)", split)
    limit = record["config"]["limit"]
    if limit is not None and limit < 1:
        raise bad('"config"."limit"', "a positive integer or null", limit)
    if record["config"]["seed"] < 0:
        raise bad('"config"."seed"', "a non-negative integer", record["config"]["seed"])
    return record["data"], record["config"]


def cmd_plot_predictions(args: argparse.Namespace) -> int:
    """``netcore plot predictions``: a saved model's answers on its validation images."""
    from ..plotting import plot_predictions

    model_file = _saved_model_file(args.model)
    data, x, y = _validation_set(model_file, args.data)
    out = _out_dir(args.out)
    model = load_model(model_file)
    x, y = x[: args.n], y[: args.n]
    pixels = _prep(x, y, data.num_classes, model.input_shape)[0]
    pred = np.argmax(np.asarray(model.predict(pixels)), axis=1)
    wrong = int(np.sum(pred != y))
    path = plot_predictions(
        x,
        y,
        pred,
        out / "predictions.png",
        class_names=data.class_names,
        n=args.n,
        title=f"{data.title}: {len(x)} validation images, {wrong} mistake(s) marked",
    )
    _say(f"{len(x) - wrong} of {len(x)} validation images predicted right.")
    _say(f"Wrote {path}")
    return 0


def _load_cnn(model_file: Path) -> Any:
    model = load_model(model_file)
    if not any(getattr(ly.params.get("kernel"), "ndim", 0) == 4 for ly in model.layers):
        raise CLIError(
            f"{model_file} holds no Conv2D layer (it is a dense network); train the CNN with "
            "'netcore train --model cnn ...' and pass its model.netcore"
        )
    return model


def cmd_plot_filters(args: argparse.Namespace) -> int:
    """``netcore plot filters``: the first Conv2D layer's filters of a saved CNN."""
    from ..plotting import plot_filters

    model = _load_cnn(_saved_model_file(args.model, cnn=True))
    path = plot_filters(model, _out_dir(args.out) / "filters.png")
    _say(f"Wrote {path}")
    return 0


def cmd_plot_feature_maps(args: argparse.Namespace) -> int:
    """``netcore plot feature-maps``: one validation image through a saved CNN's layers."""
    from ..plotting import plot_feature_maps

    model_file = _saved_model_file(args.model, cnn=True)
    model = _load_cnn(model_file)
    data, x, y = _validation_set(model_file, args.data)
    if args.index >= len(x):
        raise CLIError(f"--index {args.index} is past the {len(x):,} validation images")
    pick = slice(args.index, args.index + 1)
    image = _prep(x[pick], y[pick], data.num_classes, model.input_shape)[0]
    label = data.class_names[int(y[args.index])]
    path = plot_feature_maps(
        model,
        image[0],
        _out_dir(args.out) / "feature-maps.png",
        max_maps=args.n,
        title=f"{data.title} validation image {args.index} ({label}) through the network",
    )
    _say(f"Wrote {path}")
    return 0


def cmd_plot_overfitting(args: argparse.Namespace) -> int:
    """``netcore plot overfitting``: 'Which trendline is better?'."""
    from ..plotting import plot_overfitting

    path = plot_overfitting(_out_dir(args.out) / "overfitting.png", seed=args.seed)
    _say(f"Wrote {path}")
    return 0


def cmd_plot_xent(args: argparse.Namespace) -> int:
    """``netcore plot xent``: cross-entropy against squared error for one probability."""
    from ..plotting import plot_xent

    path = plot_xent(_out_dir(args.out) / "xent.png")
    _say(f"Wrote {path}")
    return 0


def cmd_plot_activations(args: argparse.Namespace) -> int:
    """``netcore plot activations``: one PNG; fails (status 1) without matplotlib."""
    from .. import activations
    from ..plotting import SOFTMAX_EXAMPLE, plot_activations

    z = np.asarray(SOFTMAX_EXAMPLE)
    probs = activations.softmax(z)
    _say(
        f"softmax([{', '.join(f'{v:g}' for v in z)}]) = "
        f"[{', '.join(f'{p:.3f}' for p in probs)}] (sums to {float(np.sum(probs)):.3f})"
    )
    path = plot_activations(_out_dir(args.out) / "activations.png")
    _say(f"Wrote {path}")
    return 0
