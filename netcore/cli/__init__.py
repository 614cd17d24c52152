"""The ``netcore`` command line: the course's exercises from one command.

    netcore train --dataset mnist [--data PATH] [--epochs 5] ... [--out DIR]
    netcore linear [--learning-rate 0.1] [--steps 20] [--out DIR]
    netcore plot samples|predictions|overfitting|xent|activations [--out DIR]
    netcore info

This module is the parser, :func:`main` and one ``cmd_*`` function per command; it runs past
400 lines because nine commands declare their options and print their results here. The work
is elsewhere: the data sets and their fallbacks in :mod:`netcore.datasets` (``datasets.load``),
the course model, walk-through and overfitting advice in :mod:`netcore.course`, the GPU
description in :mod:`netcore.backend.report`, the pictures in :mod:`netcore.plotting`.

Exit status: 0 on success, 2 for usage errors (argparse's own convention), 1 when a command
fails at run time. Errors go to stderr as ``netcore: error: ...``, a message of several lines
keeping its lines; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import datasets as _datasets
from .. import optimizers as _optimizers
from ..course import build_mlp, overfitting_advice
from ..course.advice import OVERFIT_THRESHOLD
from ..course.linear import MAX_STEPS, ZIGZAG_LEARNING_RATE

if TYPE_CHECKING:
    from ..datasets import TrainingData

__all__ = [
    "main",
    "build_parser",
    "info_lines",
    "build_mlp",
    "overfitting_advice",
    "OVERFIT_THRESHOLD",
    "CLIError",
]

PROG = "netcore"
# The choices come from the one name map of each kind.
DATASETS = _datasets.NAMES
OPTIMIZERS = _optimizers.OPTIMIZER_NAMES
MODEL_FILE = "model.netcore"
HISTORY_FILE = "history.json"


class CLIError(Exception):
    """A run-time failure a user can fix, reported without a traceback, exit status 1."""


# --------------------------------------------------------------------------- argument types
def _int_in(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``, with an error naming ``what``."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_in(1, None, "a positive integer")
_nonneg_int = _int_in(0, None, "a non-negative integer")
_steps = _int_in(0, MAX_STEPS, f"a whole number of steps from 0 to {MAX_STEPS}")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    """``"512,512"`` -> (512, 512); ``""`` or ``"none"`` -> () (softmax regression)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 512,512, got {text!r}"
        ) from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


# --------------------------------------------------------------------------- parser
_DATA_HELP = (
    "folder holding the data files (MNIST / Fashion-MNIST: the IDX files, gzipped or "
    "not; a folder with only the t10k test files trains on a split of the test set; "
    "Sign-MNIST: sign_mnist_train.csv and sign_mnist_test.csv). Default: search "
    "$NETCORE_DATA, ~/.cache/netcore, /usr/share/datasets, then download (MNIST and "
    "Fashion-MNIST; Sign-MNIST needs a Kaggle account); MNIST found nowhere uses the "
    "10,000-image test set shipped with netcore"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``netcore`` command."""
    from .. import __version__

    # --debug is accepted before or after the subcommand; SUPPRESS keeps a subcommand's
    # default from overwriting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback when a command fails",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="netcore: train the course's networks, plot, and inspect the setup.",
        epilog="Run 'netcore COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"netcore {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False,
        help="show the full traceback when a command fails",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(sub, common)
    _add_linear(sub, common)
    _add_plot(sub, common)
    info = sub.add_parser(
        "info", parents=[common], help="version, backends, GPU, CuPy/numba versions, CUDA simulator"
    )
    info.set_defaults(func=cmd_info)
    return parser


def _add_train(sub: Any, common: argparse.ArgumentParser) -> None:
    t = sub.add_parser(
        "train",
        parents=[common],
        help="train the course MLP on an image data set",
        description="Train the course MLP (Flatten, Dense relu..., Dense softmax) "
        "on 28x28 grayscale images, then write the model, its history "
        "and loss/accuracy plots.",
    )
    t.add_argument(
        "--dataset",
        required=True,
        choices=DATASETS,
        help="digits, clothing, or sign-language letters A-Y (28x28 grayscale)",
    )
    t.add_argument("--data", metavar="PATH", help=_DATA_HELP)
    t.add_argument(
        "--no-download",
        action="store_true",
        help="never download: use files found locally, else (MNIST) the shipped test set",
    )
    t.add_argument(
        "--backend",
        choices=("auto", "cpu", "cuda"),
        default=None,
        help="where to train (default: $NETCORE_BACKEND, else auto: CUDA when usable)",
    )
    t.add_argument(
        "--epochs", type=_positive_int, default=5, help="passes over the data (default 5)"
    )
    t.add_argument(
        "--batch-size", type=_positive_int, default=32, help="images per gradient step (default 32)"
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="rmsprop", help="default rmsprop")
    t.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="default: the optimizer's Keras default (0.001 for rmsprop and adam)",
    )
    t.add_argument(
        "--hidden",
        type=_hidden,
        default=(512, 512),
        metavar="SIZES",
        help="hidden Dense layer sizes, comma-separated (default 512,512; 'none' for none)",
    )
    t.add_argument(
        "--dropout",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="Dropout rate after each hidden layer (default 0: none)",
    )
    t.add_argument(
        "--patience",
        type=_nonneg_int,
        default=None,
        metavar="EPOCHS",
        help="stop early when validation loss has not improved for this many epochs "
        "(EarlyStopping; the best weights are kept)",
    )
    t.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="fraction of the training images held out for validation (default 0.2)",
    )
    t.add_argument(
        "--seed",
        type=_nonneg_int,
        default=0,
        help="fixes weights, shuffling, dropout and the validation split (default 0)",
    )
    t.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="use at most N training images and N test images (quick runs)",
    )
    t.add_argument(
        "--out",
        metavar="DIR",
        default="out/train",
        help="folder for model.netcore, history.json, loss.png, accuracy.png",
    )
    t.set_defaults(func=cmd_train)


def _add_linear(sub: Any, common: argparse.ArgumentParser) -> None:
    lin = sub.add_parser(
        "linear",
        parents=[common],
        help="the y = m x + b walk-through: MSE, gradients, descent, pictures",
        description="Fit y-hat = m x + b to (1, 3) and (2, 5) from m = -1, b = 5 "
        "by gradient descent with netcore, printing every number; "
        "then plot the data with the fitted line, the loss over "
        "the steps, and the loss surface with the path taken.",
    )
    lin.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.1,
        help=f"gradient-descent step size (default 0.1; try {ZIGZAG_LEARNING_RATE} "
        "to see the steps zig-zag across the valley, and 2 to see the loss "
        "blow up: above about 0.29 every step overshoots further)",
    )
    lin.add_argument(
        "--steps", type=_steps, default=20, help=f"updates to run, 0 to {MAX_STEPS} (default 20)"
    )
    lin.add_argument(
        "--out",
        metavar="DIR",
        default="out/linear",
        help="folder for linear_fit.png, loss_surface.png and loss_contour.png",
    )
    lin.set_defaults(func=cmd_linear)


def _add_plot(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plot",
        parents=[common],
        help="the course's pictures",
        description="Draw one of the course's pictures as a PNG.",
    )
    psub = p.add_subparsers(dest="figure", metavar="FIGURE", required=True)

    def figure(
        name: str, help_text: str, default_out: str = "out/plots"
    ) -> argparse.ArgumentParser:
        fig = psub.add_parser(name, parents=[common], help=help_text, description=help_text)
        fig.add_argument(
            "--out",
            metavar="DIR",
            default=default_out,
            help=f"folder for {name}.png (default {default_out})",
        )
        return fig

    samples = figure("samples", "a grid of images from a data set with their labels")
    samples.add_argument("--dataset", choices=DATASETS, default="mnist", help="default mnist")
    samples.add_argument(
        "--data",
        metavar="PATH",
        help="folder holding the data files (default: the folders 'netcore "
        "train' searches; never a download; MNIST found nowhere shows "
        "the test set shipped with netcore)",
    )
    samples.add_argument(
        "--n",
        type=_int_in(1, 100, "a number of images from 1 to 100"),
        default=25,
        help="images to show (default 25)",
    )
    samples.set_defaults(func=cmd_plot_samples)

    preds = figure(
        "predictions",
        "validation images with true and predicted labels from a saved model, mistakes marked",
    )
    preds.add_argument(
        "--model",
        metavar="FILE",
        required=True,
        help="a model saved by 'netcore train' (e.g. out/train/model.netcore); "
        "its history.json beside it names the data and validation split",
    )
    preds.add_argument(
        "--data", metavar="PATH", help="the data folder, when it moved since training"
    )
    preds.add_argument(
        "--n",
        type=_int_in(1, 100, "a number of images from 1 to 100"),
        default=25,
        help="images to show (default 25)",
    )
    preds.set_defaults(func=cmd_plot_predictions)

    over = figure(
        "overfitting",
        "'Which trendline is better?': a simple and a wiggly fit to "
        "noisy points, with training and validation error",
    )
    over.add_argument("--seed", type=_nonneg_int, default=0, help="the noise (default 0)")
    over.set_defaults(func=cmd_plot_overfitting)

    xent = figure(
        "xent",
        "cross-entropy against squared error as the probability of the true class goes from 1 to 0",
    )
    xent.set_defaults(func=cmd_plot_xent)

    act = figure("activations", "linear, ReLU, sigmoid and softmax side by side")
    act.set_defaults(func=cmd_plot_activations)


# --------------------------------------------------------------------------- main, errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help / --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure becomes a message, unless --debug
        if debug:
            traceback.print_exc()
        hint = (
            "" if debug or _expected(exc) else " (unexpected: rerun with --debug for the traceback)"
        )
        print(_error_text(exc, hint), file=sys.stderr)
        _abort_other_ranks()
        return 1


def _expected(exc: BaseException) -> bool:
    """Failures a user can cause and fix (bad data, missing backend, ...), as opposed to bugs."""
    from ..errors import NetcoreError

    return isinstance(exc, (CLIError, NetcoreError, OSError, ValueError, ImportError))


def _error_text(exc: BaseException, hint: str = "") -> str:
    """``netcore: error: <first line><hint>`` and any further lines of the message, indented,
    so a list of folders searched stays a list."""
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        lines = [type(exc).__name__]
    elif not _expected(exc):
        lines[0] = f"{type(exc).__name__}: {lines[0]}"
    return "\n".join([f"{PROG}: error: {lines[0]}{hint}"] + [f"  {ln}" for ln in lines[1:]])


def _say(*parts: Any) -> None:
    from ..distribution import is_chief

    if is_chief():  # under mpiexec rank 0 alone talks
        print(*parts, flush=True)


def _data_parallel_under_mpiexec() -> Any:
    """Under mpiexec: train data-parallel across the ranks (rank 0 prints and writes files)."""
    from .. import distribution

    if distribution.get_distribution() is None and distribution.launched_by_mpi():
        distribution.set_distribution(distribution.DataParallel())
    return distribution.active()


def _abort_other_ranks() -> None:
    """Under mpiexec the other ranks would wait for this one forever: end the whole job."""
    from .. import distribution

    dist = distribution.active()
    if dist is not None:
        dist.abort(f"{PROG} failed")


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


def _out_dir(path: str) -> Path:
    """Create the output folder and prove it writable, before any long work starts."""
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(
            f"cannot create the output folder {out}: {exc.strerror or exc}; "
            "choose another with --out"
        ) from exc
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise CLIError(
            f"cannot write to the output folder {out}: {exc.strerror or exc}; "
            "choose another with --out"
        ) from exc
    return out


def _try_plots(draw: Callable[[], list[Path]]) -> list[Path]:
    """Draw, or warn that matplotlib is missing and carry on (the rest of the command stands)."""
    from ..plotting import PlottingUnavailableError

    try:
        return draw()
    except PlottingUnavailableError as exc:
        _warn(f"plots skipped: {exc}")
        return []


# --------------------------------------------------------------------------- train
def _split(
    x: np.ndarray,
    y: np.ndarray,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Seeded shuffle, then the last ``fraction`` held out (shuffled first, unlike Keras'
    validation_split: the MNIST test set is ordered by writer group)."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    if fraction <= 0:
        return x, y, None, None
    k = int(round(len(x) * (1.0 - fraction)))
    if k <= 0 or k >= len(x):
        raise CLIError(
            f"--validation-split {fraction} leaves {k} of {len(x)} images for "
            "training; choose a split that leaves images on both sides"
        )
    return x[:k], y[:k], x[k:], y[k:]


def _limited(
    x: np.ndarray,
    y: np.ndarray,
    limit: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(x):
        return x, y
    # A seeded random subset, not the first N: keeps the classes balanced.
    idx = np.sort(np.random.default_rng(seed + 1).choice(len(x), size=limit, replace=False))
    return x[idx], y[idx]


def _prep(x: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The course's preprocessing: pixels 0-255 -> 0-1, labels -> one-hot rows."""
    from ..utils import to_categorical

    return x.astype(np.float32) / np.float32(255.0), to_categorical(y, num_classes)


def _evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` of the model on ``(x, y)``."""
    return dict(model.evaluate(x, y, batch_size=batch_size, return_dict=True))


def _fmt_logs(logs: dict[str, float], prefix: str = "") -> str:
    return f"loss {logs[prefix + 'loss']:.4f}, accuracy {logs[prefix + 'accuracy']:.4f}"


def cmd_train(args: argparse.Namespace) -> int:
    """``netcore train``: load, train with a progress bar, report, write model/history/plots."""
    from .. import callbacks, datasets, optimizers

    dist = _data_parallel_under_mpiexec()
    data = datasets.load(args.dataset, args.data, download=not args.no_download)
    out = _out_dir(args.out)
    for note in data.notes:
        _say(f"Note: {note}.")
    x_pool, y_pool = _limited(data.x_train, data.y_train, args.limit, args.seed)
    x_tr, y_tr, x_val, y_val = _split(x_pool, y_pool, args.validation_split, args.seed)
    x_te, y_te = data.x_test, data.y_test
    if x_te is not None and y_te is not None and args.limit is not None:
        x_te, y_te = x_te[: args.limit], y_te[: args.limit]
    source = "test-set images" if data.from_test_set else "images"
    _say(
        f"Data: {data.name}, {len(x_tr):,} {source} to train on, "
        + (f"{len(x_val):,} to validate on" if x_val is not None else "no validation set")
        + (
            f", {len(x_te):,} test images"
            if x_te is not None
            else (
                " (no separate test set: they all come from the test files)"
                if data.from_test_set
                else ""
            )
        )
        + "."
    )
    if dist is not None:
        _say(f"Training: {dist.describe()}; each batch of {args.batch_size} is split across them.")

    model = build_mlp(data.num_classes, args.hidden, args.dropout, args.backend, args.seed)
    kwargs = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
    optimizer = optimizers.get(args.optimizer, **kwargs)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary(print_fn=_say)
    cbs = []
    early = None
    if args.patience is not None:
        if x_val is None:
            raise CLIError("--patience needs a validation set; set --validation-split above 0")
        early = callbacks.EarlyStopping(
            monitor="val_loss", patience=args.patience, restore_best_weights=True
        )
        cbs.append(early)
    xt, yt = _prep(x_tr, y_tr, data.num_classes)
    val = None if x_val is None or y_val is None else _prep(x_val, y_val, data.num_classes)
    # The model itself stops with NonFiniteLossError on a NaN/inf loss; NumPy's overflow
    # warnings on the way there would only bury that message.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        history = model.fit(
            xt,
            yt,
            batch_size=args.batch_size,
            epochs=args.epochs,
            verbose=1,
            validation_data=val,
            callbacks=cbs,
        )
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    epochs_run = len(hist.get("loss", []))

    final = {k: v[-1] for k, v in hist.items()}
    eval_batch = max(args.batch_size, 256)
    _say("")
    if early is not None and early.stopped_epoch > 0 and val is not None:
        # The best epoch's weights were put back: report what the saved model does, measured
        # now on both sets, not the last epoch's running numbers.
        _say(
            f"Early stopping after epoch {early.stopped_epoch + 1}: validation loss had not "
            f"improved for {args.patience} epoch(s); the weights of epoch "
            f"{early.best_epoch + 1} were restored."
        )
        final = _evaluate(model, xt, yt, eval_batch)
        final.update({f"val_{k}": v for k, v in _evaluate(model, *val, eval_batch).items()})
        _say(f"With the weights of epoch {early.best_epoch + 1}:")
    else:
        _say(f"After {epochs_run} epoch(s):")
    _say(f"  training:   {_fmt_logs(final)}")
    advice: list[str] = []
    if val is not None and x_val is not None:
        _say(f"  validation: {_fmt_logs(final, 'val_')}")
        advice = overfitting_advice(
            final["accuracy"], final["val_accuracy"], hist.get("val_loss", []), n_val=len(x_val)
        )
    test = None
    if x_te is not None and y_te is not None:
        test = _evaluate(model, *_prep(x_te, y_te, data.num_classes), eval_batch)
        _say(f"  test:       {_fmt_logs(test)} ({len(x_te):,} images)")
    for line in advice:
        _say(line)

    if dist is not None and not dist.is_chief:
        return 0  # rank 0 writes the files
    model_path = out / MODEL_FILE
    model.save(model_path)
    record = {
        "history": hist,
        "epochs": list(range(1, epochs_run + 1)),
        "final": final,
        "test": test,
        "data": {
            "dataset": data.name,
            "source": args.data,
            "origin": data.source,
            "from_test_set": data.from_test_set,
            "train": len(x_tr),
            "validation": 0 if x_val is None else len(x_val),
            "test": 0 if x_te is None else len(x_te),
            "num_classes": data.num_classes,
        },
        "config": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "learning_rate": optimizer.learning_rate,
            "hidden": list(args.hidden),
            "dropout": args.dropout,
            "validation_split": args.validation_split,
            "seed": args.seed,
            "limit": args.limit,
            "backend": model.backend.describe(),
        },
    }
    (out / HISTORY_FILE).write_text(json.dumps(record, indent=2) + "\n")
    written = [model_path, out / HISTORY_FILE]
    written += _try_plots(lambda: _history_plots(hist, out, data.name))
    _say("Wrote " + ", ".join(str(p) for p in written))
    return 0


def _history_plots(hist: dict[str, list[float]], out: Path, name: str) -> list[Path]:
    from ..plotting import plot_history

    return [
        plot_history(
            hist, out / "loss.png", metrics=("loss",), title=f"{name}: training and validation loss"
        ),
        plot_history(
            hist,
            out / "accuracy.png",
            metrics=("accuracy",),
            title=f"{name}: training and validation accuracy",
        ),
    ]


# --------------------------------------------------------------------------- linear
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
def _class_names(name: str) -> tuple[str, ...]:
    from .. import datasets

    mod = datasets.get(name)
    return tuple(getattr(mod, "CLASS_NAMES", None) or mod.LETTERS)


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
        class_names=_class_names(data.name),
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
        info, config = record["data"], record["config"]
    except (OSError, ValueError, KeyError) as exc:
        raise CLIError(
            f"cannot read {record_file} ({exc}): 'netcore plot predictions' needs "
            "the history.json that 'netcore train' writes beside the model"
        ) from exc
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


def cmd_plot_predictions(args: argparse.Namespace) -> int:
    """``netcore plot predictions``: a saved model's answers on its validation images."""
    from ..loading import load_model
    from ..plotting import plot_predictions

    model_file = Path(args.model).expanduser()
    if not model_file.is_file():
        raise CLIError(
            f"model file {model_file} does not exist; train one with "
            "'netcore train ... --out DIR' (it writes DIR/model.netcore)"
        )
    data, x, y = _validation_set(model_file, args.data)
    out = _out_dir(args.out)
    model = load_model(model_file)
    x, y = x[: args.n], y[: args.n]
    pred = np.argmax(np.asarray(model.predict(_prep(x, y, data.num_classes)[0])), axis=1)
    wrong = int(np.sum(pred != y))
    path = plot_predictions(
        x,
        y,
        pred,
        out / "predictions.png",
        class_names=_class_names(data.name),
        n=args.n,
        title=f"{data.title}: {len(x)} validation images, {wrong} mistake(s) marked",
    )
    _say(f"{len(x) - wrong} of {len(x)} validation images predicted right.")
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


# --------------------------------------------------------------------------- info
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


# --------------------------------------------------------------------------- old names
def _load_training_data(name: str, data: str | None) -> TrainingData:
    return _datasets.load(name, data)


def _gpu_lines() -> list[str]:
    from ..backend.report import device_report

    return device_report().lines()


_DEPRECATED: dict[str, tuple[str, Callable[[], Any]]] = {
    "load_training_data": ("netcore.datasets.load", lambda: _load_training_data),
    "TrainingData": ("netcore.datasets.TrainingData", lambda: _datasets.TrainingData),
    "gpu_lines": ("netcore.backend.report.device_report().lines()", lambda: _gpu_lines),
}


def __getattr__(name: str) -> Any:
    """Names this module used to define, still served with a DeprecationWarning."""
    if name in _DEPRECATED:
        import warnings

        replacement, get = _DEPRECATED[name]
        warnings.warn(
            f"netcore.cli.{name} is deprecated: use {replacement}", DeprecationWarning, stacklevel=2
        )
        return get()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
