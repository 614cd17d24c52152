"""The argument parser of the ``netcore`` command and its argument types.

Each command stores the name of its function in ``handler`` (``"cmd_train"``, ...);
:func:`netcore.cli.main` looks that name up in :mod:`netcore.cli` when it runs.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable
from typing import Any

from ..course.linear import MAX_STEPS, ZIGZAG_LEARNING_RATE
from . import export, predict
from ._common import DATASETS, OPTIMIZERS, PROG


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


def _float_where(accept: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type: a number that ``accept`` takes, with an error naming ``what``."""

    def parse(text: str) -> float:
        try:
            value: float | None = float(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_float = _float_where(lambda v: math.isfinite(v) and v > 0, "a positive number")
_fraction = _float_where(lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


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
class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an option it does not know is refused here, with this
    command's usage (not the top level's) and the closest option it has ("did you mean
    --epochs?"), rather than passed up as the top level's "unrecognized arguments"."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggestion(extras)}")
        return parsed, extras

    def _suggestion(self, extras: list[str]) -> str:
        known = [opt for opt in self._option_string_actions if opt.startswith("--")]
        for word in extras:
            if word.startswith("-"):
                close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.6)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""


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
    common = _CommandParser(add_help=False)
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
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    _add_train(sub, common)
    _add_linear(sub, common)
    _add_plot(sub, common)
    predict.add_parser(sub, common)
    export.add_parser(sub, common)
    info = sub.add_parser(
        "info", parents=[common], help="version, backends, GPU, CuPy/numba versions, CUDA simulator"
    )
    info.set_defaults(handler="cmd_info")
    return parser


def _add_train(sub: Any, common: argparse.ArgumentParser) -> None:
    t = sub.add_parser(
        "train",
        parents=[common],
        help="train the course MLP or CNN on an image data set",
        description="Train the course MLP (Flatten, Dense relu..., Dense softmax) or the "
        "course CNN (three Conv2D/BatchNormalization/MaxPool2D stages, Dense 512, Dense "
        "softmax) on 28x28 grayscale images, then write the model, its history "
        "and loss/accuracy plots.",
    )
    t.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default="mlp",
        help="mlp: the dense network (default); cnn: the convolutional network of the "
        "course's next chapter (images fed as 28x28x1)",
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
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="capture each training step as a CUDA graph and replay it (jit_compile=True; "
        "refused off CUDA); --no-jit: always eager. Default: auto (capture on CUDA, checked "
        "against an eager step first; NETCORE_JIT=0|1|auto overrides)",
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
        default=None,
        metavar="SIZES",
        help="MLP only: hidden Dense layer sizes, comma-separated (default 512,512; 'none' "
        "for none)",
    )
    t.add_argument(
        "--dropout",
        type=_fraction,
        default=None,
        metavar="RATE",
        help="MLP only: Dropout rate after each hidden layer (default 0: none)",
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
    t.set_defaults(handler="cmd_train")


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
    lin.set_defaults(handler="cmd_linear")


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
    samples.set_defaults(handler="cmd_plot_samples")

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
    preds.set_defaults(handler="cmd_plot_predictions")

    model_help = "a CNN saved by 'netcore train --model cnn' (e.g. out/train/model.netcore)"
    filters = figure("filters", "the first Conv2D layer's filters of a saved CNN as small images")
    filters.add_argument("--model", metavar="FILE", required=True, help=model_help)
    filters.set_defaults(handler="cmd_plot_filters")

    fmaps = figure(
        "feature-maps",
        "one validation image through a saved CNN: the maps after each convolution and pooling",
    )
    fmaps.add_argument(
        "--model",
        metavar="FILE",
        required=True,
        help=model_help + "; its history.json beside it names the data and validation split",
    )
    fmaps.add_argument(
        "--data", metavar="PATH", help="the data folder, when it moved since training"
    )
    fmaps.add_argument(
        "--index", type=_nonneg_int, default=0, help="which validation image (default 0)"
    )
    fmaps.add_argument(
        "--n",
        type=_int_in(1, 32, "a number of channels from 1 to 32"),
        default=8,
        help="channels to show per layer (default 8)",
    )
    fmaps.set_defaults(handler="cmd_plot_feature_maps")

    over = figure(
        "overfitting",
        "'Which trendline is better?': a simple and a wiggly fit to "
        "noisy points, with training and validation error",
    )
    over.add_argument("--seed", type=_nonneg_int, default=0, help="the noise (default 0)")
    over.set_defaults(handler="cmd_plot_overfitting")

    xent = figure(
        "xent",
        "cross-entropy against squared error as the probability of the true class goes from 1 to 0",
    )
    xent.set_defaults(handler="cmd_plot_xent")

    act = figure("activations", "linear, ReLU, sigmoid and softmax side by side")
    act.set_defaults(handler="cmd_plot_activations")
