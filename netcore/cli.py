"""The ``netcore`` command line: the course's exercises from one command.

    netcore train --dataset mnist [--data PATH] [--epochs 5] ... [--out DIR]
    netcore linear [--learning-rate 0.1] [--steps 20] [--out DIR]
    netcore plot activations [--out DIR]
    netcore info

Exit status: 0 on success, 2 for usage errors (argparse's own convention), 1 when a command
fails at run time. Errors are one line on stderr, ``netcore: error: ...``; ``--debug`` shows
the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from .models import Sequential

PROG = "netcore"
DATASETS = ("mnist", "fashion-mnist", "sign-mnist")
OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad")
#: Validation accuracy this far below training accuracy is called overfitting.
OVERFIT_THRESHOLD = 0.03
MODEL_FILE = "model.netcore"
HISTORY_FILE = "history.json"


class CLIError(Exception):
    """A run-time failure reported as one line, exit status 1."""


# --------------------------------------------------------------------------- argument types
def _int_at_least(low: int, what: str):
    """An argparse type: an integer >= ``low``, with a one-line error naming ``what``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "a non-negative integer")


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
            f"expected comma-separated layer sizes such as 512,512, got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``netcore`` command."""
    from . import __version__

    # --debug is accepted before or after the subcommand; SUPPRESS keeps a subcommand's
    # default from overwriting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback when a command fails")

    parser = argparse.ArgumentParser(
        prog=PROG, description="netcore: train the course's networks, plot, and inspect the setup.",
        epilog="Run 'netcore COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"netcore {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = sub.add_parser("train", parents=[common], help="train the course MLP on an image data set",
                       description="Train the course MLP (Flatten, Dense relu..., Dense softmax) "
                                   "on 28x28 grayscale images, then write the model, its history "
                                   "and loss/accuracy plots.")
    t.add_argument("--dataset", required=True, choices=DATASETS,
                   help="digits, clothing, or sign-language letters A-Y (28x28 grayscale)")
    t.add_argument("--data", metavar="PATH",
                   help="folder holding the data files (MNIST / Fashion-MNIST: the IDX files, "
                        "gzipped or not; a folder with only the t10k test files trains on a split "
                        "of the test set; Sign-MNIST: sign_mnist_train.csv and sign_mnist_test.csv). "
                        "Default: search $NETCORE_DATA, ~/.cache/netcore, /usr/share/datasets, "
                        "then download (MNIST and Fashion-MNIST only: Sign-MNIST needs a Kaggle "
                        "account)")
    t.add_argument("--backend", choices=("auto", "cpu", "cuda"), default=None,
                   help="where to train (default: $NETCORE_BACKEND, else auto: CUDA when usable)")
    t.add_argument("--epochs", type=_positive_int, default=5, help="passes over the data (default 5)")
    t.add_argument("--batch-size", type=_positive_int, default=32,
                   help="images per gradient step (default 32)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="rmsprop", help="default rmsprop")
    t.add_argument("--learning-rate", type=_positive_float, default=None,
                   help="default: the optimizer's Keras default (0.001 for rmsprop and adam)")
    t.add_argument("--hidden", type=_hidden, default=(512, 512), metavar="SIZES",
                   help="hidden Dense layer sizes, comma-separated (default 512,512; 'none' for none)")
    t.add_argument("--dropout", type=_fraction, default=0.0, metavar="RATE",
                   help="Dropout rate after each hidden layer (default 0: none)")
    t.add_argument("--patience", type=_nonneg_int, default=None, metavar="EPOCHS",
                   help="stop early when validation loss has not improved for this many epochs "
                        "(EarlyStopping; the best weights are kept)")
    t.add_argument("--validation-split", type=_fraction, default=0.2, metavar="FRACTION",
                   help="fraction of the training images held out for validation (default 0.2)")
    t.add_argument("--seed", type=_nonneg_int, default=0,
                   help="fixes weights, shuffling, dropout and the validation split (default 0)")
    t.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="use at most N training images and N test images (quick runs)")
    t.add_argument("--out", metavar="DIR", default="out/train",
                   help="folder for model.netcore, history.json, loss.png, accuracy.png")
    t.set_defaults(func=cmd_train)

    lin = sub.add_parser("linear", parents=[common],
                         help="the y = m x + b walk-through: MSE, gradients, descent, loss surface",
                         description="Fit y-hat = m x + b to (1, 3) and (2, 5) from m = -1, b = 5 "
                                     "by gradient descent with netcore, printing every number, "
                                     "and plot the loss surface with the path taken.")
    lin.add_argument("--learning-rate", type=_positive_float, default=0.1,
                     help="gradient-descent step size (default 0.1; try 2 to see it overshoot)")
    lin.add_argument("--steps", type=_nonneg_int, default=20, help="updates to run (default 20)")
    lin.add_argument("--out", metavar="DIR", default="out/linear",
                     help="folder for loss_surface.png and loss_contour.png")
    lin.set_defaults(func=cmd_linear)

    p = sub.add_parser("plot", parents=[common], help="course figures (activations)")
    psub = p.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    act = psub.add_parser("activations", parents=[common],
                          help="linear, ReLU, sigmoid and softmax side by side")
    act.add_argument("--out", metavar="DIR", default="out/plots",
                     help="folder for activations.png")
    act.set_defaults(func=cmd_plot_activations)

    info = sub.add_parser("info", parents=[common],
                          help="version, backends, GPU, CuPy/numba versions, CUDA simulator")
    info.set_defaults(func=cmd_info)
    return parser


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
    except Exception as exc:  # every failure becomes one line, unless --debug
        if debug:
            traceback.print_exc()
        hint = "" if debug or _expected(exc) else " (unexpected: rerun with --debug for the traceback)"
        print(f"{PROG}: error: {_one_line(exc)}{hint}", file=sys.stderr)
        return 1


def _expected(exc: BaseException) -> bool:
    """Failures a user can cause and fix (bad data, missing backend, ...), as opposed to bugs."""
    from .errors import NetcoreError

    return isinstance(exc, (CLIError, NetcoreError, OSError, ValueError, ImportError))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, CLIError):
        return " ".join(text.split("\n"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    msg = "; ".join(lines)
    from .errors import NetcoreError

    if not isinstance(exc, (NetcoreError, ValueError, OSError, ImportError)):
        msg = f"{type(exc).__name__}: {msg}"
    return msg


def _say(*parts: Any) -> None:
    print(*parts, flush=True)


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


def _out_dir(path: str) -> Path:
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the output folder {out}: {exc.strerror or exc}") from exc
    return out


# --------------------------------------------------------------------------- data
@dataclass
class TrainingData:
    """What ``netcore train`` trains on, already split; images uint8 (N, 28, 28)."""

    name: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    notes: list[str] = field(default_factory=list)
    #: True when the training images are a split of the test set (only t10k files found)
    from_test_set: bool = False


_IDX_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def _idx_module(name: str) -> Any:
    if name == "mnist":
        from .datasets import mnist as mod
    else:
        from .datasets import fashion_mnist as mod
    return mod


def _found(mod: Any, split: str, path: str | None) -> bool:
    from .datasets.errors import DatasetNotFoundError

    try:
        mod.find_files(split, path, download=False)
    except DatasetNotFoundError:
        return False
    return True


def load_training_data(name: str, data: str | None) -> TrainingData:
    """Load ``name`` from the folder ``data`` (or the default places): train and test sets, or
    only the test set when that is all there is (then the caller trains on a split of it)."""
    if data is not None:
        folder = Path(data).expanduser()
        if not folder.exists():
            raise CLIError(f"data folder {folder} does not exist")
        if not folder.is_dir():
            raise CLIError(f"--data must be a folder, {folder} is a file")
    if name == "sign-mnist":
        return _load_sign_mnist(data)
    from .datasets.errors import DatasetNotFoundError

    mod, title = _idx_module(name), _IDX_TITLES[name]
    have_train, have_test = _found(mod, "train", data), _found(mod, "test", data)
    if have_train:
        x_tr, y_tr = mod.load_train(data, download=False)
        x_te, y_te = mod.load_test(data, download=False) if have_test else (None, None)
        notes = [] if have_test else [f"no {title} test files found: no test accuracy will be reported"]
        return TrainingData(name, mod.num_classes, x_tr, y_tr, x_te, y_te, notes)
    if data is None:
        # Nothing local: let the loader download (into ~/.cache/netcore); only if that fails
        # fall back to a local test set.
        try:
            (x_tr, y_tr), (x_te, y_te) = mod.load_data(None, download=True)
            return TrainingData(name, mod.num_classes, x_tr, y_tr, x_te, y_te)
        except DatasetNotFoundError as exc:
            if not have_test:
                raise CLIError(_not_found_line(title, None, str(exc))) from exc
    elif not have_test:
        raise CLIError(_not_found_line(title, data, None))
    x, y = mod.load_test(data, download=False)
    where = mod.find_files("test", data, download=False)[0].parent
    return TrainingData(name, mod.num_classes, x, y, None, None, from_test_set=True,
                        notes=[f"only the {title} TEST set (t10k files, {len(x):,} images) was found "
                               f"in {where}: training and validating on a split of it"])


def _not_found_line(title: str, data: str | None, detail: str | None) -> str:
    need = ("train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz and/or "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or plain)")
    if data is not None:
        return f"{title} not found in {data}: need {need}"
    why = ""
    if detail:
        fails = [ln.strip(" -") for ln in detail.splitlines() if ln.strip().startswith("- ")]
        if fails:
            why = f"; download failed: {fails[0]}"
    return (f"{title} not found in $NETCORE_DATA, ~/.cache/netcore or /usr/share/datasets{why}; "
            f"pass --data FOLDER holding {need}")


def _load_sign_mnist(data: str | None) -> TrainingData:
    from .datasets import sign_mnist
    from .datasets.errors import DatasetNotFoundError

    def have(split: str) -> bool:
        try:
            sign_mnist.find_files(data, (split,))
        except DatasetNotFoundError:
            return False
        return True

    # 25 label slots, 0-24 = A-Y: J (9) needs motion and never occurs but keeps its slot, so
    # an output unit's index is still its letter's place in the alphabet.
    n = int(sign_mnist.num_classes)
    notes = [f"{n} output units for the letters A-Y; J (label 9) needs motion, has no images "
             "and is never the answer"]
    if have("train"):
        x_tr, y_tr = sign_mnist.load_train(data)
        if have("test"):
            x_te, y_te = sign_mnist.load_test(data)
            return TrainingData("sign-mnist", n, x_tr, y_tr, x_te, y_te, notes)
        notes.append(f"{sign_mnist.FILES['test']} not found: no test accuracy will be reported")
        return TrainingData("sign-mnist", n, x_tr, y_tr, None, None, notes)
    if have("test"):
        x, y = sign_mnist.load_test(data)
        notes.append(f"only {sign_mnist.FILES['test']} ({len(x):,} images) was found: training "
                     "and validating on a split of the test set")
        return TrainingData("sign-mnist", n, x, y, None, None, notes, from_test_set=True)
    sign_mnist.load_data(data)  # raises DatasetNotFoundError with the folders and the Kaggle link
    raise CLIError("Sign-MNIST files not found")  # not reached


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Seeded shuffle, then the last ``fraction`` held out (shuffled first, unlike Keras'
    validation_split: the MNIST test set is ordered by writer group)."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    if fraction <= 0:
        return x, y, None, None
    k = int(round(len(x) * (1.0 - fraction)))
    if k <= 0 or k >= len(x):
        raise CLIError(f"--validation-split {fraction} leaves {k} of {len(x)} images for "
                       "training; choose a split that leaves images on both sides")
    return x[:k], y[:k], x[k:], y[k:]


# --------------------------------------------------------------------------- train
def _make_optimizer(name: str, learning_rate: float | None) -> Any:
    from . import optimizers

    classes = {"rmsprop": optimizers.RMSprop, "adam": optimizers.Adam, "sgd": optimizers.SGD,
               "adagrad": optimizers.Adagrad}
    cls = classes[name]
    return cls() if learning_rate is None else cls(learning_rate=learning_rate)


def build_mlp(num_classes: int, hidden: Sequence[int], dropout: float = 0.0,
              backend: str | None = None, seed: int = 0) -> Sequential:
    """The course MLP: Flatten(28x28), Dense(h, relu) [+ Dropout] per hidden size,
    Dense(num_classes, softmax). ``backend`` None: ``NETCORE_BACKEND`` or "auto"."""
    from . import Sequential
    from .layers import Dense, Dropout, Flatten

    layers: list[Any] = [Flatten(input_shape=(28, 28))]
    for units in hidden:
        layers.append(Dense(units, activation="relu"))
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation="softmax"))
    return Sequential(layers, backend=backend, seed=seed)


def _fmt_logs(logs: dict[str, float], prefix: str = "") -> str:
    return f"loss {logs[prefix + 'loss']:.4f}, accuracy {logs[prefix + 'accuracy']:.4f}"


def overfitting_advice(train_acc: float, val_acc: float, val_losses: Sequence[float] = (),
                       threshold: float = OVERFIT_THRESHOLD, n_val: int | None = None) -> list[str]:
    """Plain-words verdict on the gap between training and validation accuracy (and on a
    validation loss that has been rising since an earlier epoch). ``n_val``: the number of
    validation images, to warn when so few that one image moves accuracy past the threshold."""
    gap = train_acc - val_acc
    noise = []
    if n_val is not None and 0 < n_val and 1.0 / n_val > threshold / 3:
        noise = [f"(With only {n_val:,} validation images each one moves validation accuracy by "
                 f"{1.0 / n_val:.3f}: treat this comparison as rough.)"]
    rising = []
    if len(val_losses) > 1:
        best = int(np.argmin(val_losses))
        if best < len(val_losses) - 1:
            rising = [f"Validation loss was lowest after epoch {best + 1} ({val_losses[best]:.4f}) "
                      f"and is {val_losses[-1]:.4f} after epoch {len(val_losses)}."]
    if gap > threshold:
        return rising + [f"OVERFITTING: validation accuracy ({val_acc:.4f}) trails training accuracy "
                f"({train_acc:.4f}) by {gap:.4f}, more than {threshold}. The network is "
                "memorising its training images instead of learning what carries over to new ones.",
                "Try: fewer epochs or early stopping (--epochs, --patience 2), Dropout "
                "(--dropout 0.2), a smaller model (--hidden 128), or more training data."] + noise
    return [f"No sign of overfitting: validation accuracy ({val_acc:.4f}) is within "
            f"{threshold} of training accuracy ({train_acc:.4f})."] + rising + noise


def cmd_train(args: argparse.Namespace) -> int:
    """``netcore train``: load, train with a progress bar, report, write model/history/plots."""
    from . import callbacks, utils

    data = load_training_data(args.dataset, args.data)
    out = _out_dir(args.out)
    for note in data.notes:
        _say(f"Note: {note}.")
    x_pool, y_pool = data.x_train, data.y_train
    if args.limit is not None:
        x_pool, y_pool = _limited(x_pool, y_pool, args.limit, args.seed)
    x_tr, y_tr, x_val, y_val = _split(x_pool, y_pool, args.validation_split, args.seed)
    x_te, y_te = data.x_test, data.y_test
    if x_te is not None and args.limit is not None:
        x_te, y_te = x_te[:args.limit], y_te[:args.limit]
    source = "test-set images" if data.from_test_set else "images"
    _say(f"Data: {data.name}, {len(x_tr):,} {source} to train on, "
         + (f"{len(x_val):,} to validate on" if x_val is not None else "no validation set")
         + (f", {len(x_te):,} test images" if x_te is not None else
            (" (no separate test set: they all come from the test files)" if data.from_test_set
             else "")) + ".")

    # The course's preprocessing: pixels 0-255 -> 0-1, labels -> one-hot rows.
    def prep(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x.astype(np.float32) / 255.0, utils.to_categorical(y, data.num_classes))

    model = build_mlp(data.num_classes, args.hidden, args.dropout, args.backend, args.seed)
    model.compile(optimizer=_make_optimizer(args.optimizer, args.learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary(print_fn=_say)
    cbs = []
    early = None
    if args.patience is not None:
        if x_val is None:
            raise CLIError("--patience needs a validation set; set --validation-split above 0")
        early = callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                        restore_best_weights=True)
        cbs.append(early)
    xt, yt = prep(x_tr, y_tr)
    val = prep(x_val, y_val) if x_val is not None else None
    # The model itself stops with NonFiniteLossError on a NaN/inf loss; NumPy's overflow
    # warnings on the way there would only bury that one-line message.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        history = model.fit(xt, yt, batch_size=args.batch_size, epochs=args.epochs, verbose=1,
                            validation_data=val, callbacks=cbs)
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    epochs_run = len(hist.get("loss", []))

    final = {k: v[-1] for k, v in hist.items()}
    eval_batch = max(args.batch_size, 256)
    _say("")
    if early is not None and early.stopped_epoch > 0:
        # The best epoch's weights were put back: report what the saved model does, measured
        # now on both sets, not the last epoch's running numbers.
        _say(f"Early stopping after epoch {early.stopped_epoch + 1}: validation loss had not "
             f"improved for {args.patience} epoch(s); the weights of epoch "
             f"{early.best_epoch + 1} were restored.")
        final = dict(model.evaluate(xt, yt, batch_size=eval_batch))
        final.update({f"val_{k}": v for k, v in model.evaluate(*val, batch_size=eval_batch).items()})
        _say(f"With the weights of epoch {early.best_epoch + 1}:")
    else:
        _say(f"After {epochs_run} epoch(s):")
    _say(f"  training:   {_fmt_logs(final)}")
    advice: list[str] = []
    if val is not None:
        _say(f"  validation: {_fmt_logs(final, 'val_')}")
        advice = overfitting_advice(final["accuracy"], final["val_accuracy"],
                                    hist.get("val_loss", []), n_val=len(x_val))
    test = None
    if x_te is not None:
        test = model.evaluate(*prep(x_te, y_te), batch_size=eval_batch)
        _say(f"  test:       {_fmt_logs(test)} ({len(x_te):,} images)")
    for line in advice:
        _say(line)

    model_path = out / MODEL_FILE
    model.save(model_path)
    record = {
        "history": hist,
        "epochs": list(range(1, epochs_run + 1)),
        "final": final,
        "test": test,
        "data": {"dataset": data.name, "source": args.data, "from_test_set": data.from_test_set,
                 "train": len(x_tr), "validation": 0 if x_val is None else len(x_val),
                 "test": 0 if x_te is None else len(x_te), "num_classes": data.num_classes},
        "config": {"epochs": args.epochs, "batch_size": args.batch_size,
                   "optimizer": args.optimizer, "learning_rate": model.optimizer.learning_rate,
                   "hidden": list(args.hidden), "dropout": args.dropout,
                   "validation_split": args.validation_split, "seed": args.seed,
                   "limit": args.limit, "backend": model.backend.describe()},
    }
    (out / HISTORY_FILE).write_text(json.dumps(record, indent=2) + "\n")
    written = [model_path, out / HISTORY_FILE]
    written += _try_plots(lambda: _history_plots(hist, out, data.name))
    _say("Wrote " + ", ".join(str(p) for p in written))
    return 0


def _limited(x: np.ndarray, y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if limit >= len(x):
        return x, y
    # A seeded random subset, not the first N: keeps the classes balanced.
    idx = np.sort(np.random.default_rng(seed + 1).choice(len(x), size=limit, replace=False))
    return x[idx], y[idx]


def _history_plots(hist: dict[str, list[float]], out: Path, name: str) -> list[Path]:
    from .plotting import plot_history

    return [plot_history(hist, out / "loss.png", metrics=("loss",),
                         title=f"{name}: training and validation loss"),
            plot_history(hist, out / "accuracy.png", metrics=("accuracy",),
                         title=f"{name}: training and validation accuracy")]


def _try_plots(draw: Callable[[], list[Path]]) -> list[Path]:
    """Draw, or warn that matplotlib is missing and carry on (the rest of the command stands)."""
    from .plotting import PlottingUnavailableError

    try:
        return draw()
    except PlottingUnavailableError as exc:
        _warn(f"plots skipped: {exc}")
        return []


# --------------------------------------------------------------------------- linear
def cmd_linear(args: argparse.Namespace) -> int:
    """``netcore linear``: the y = m x + b walk-through, then its loss-surface plots."""
    from . import linear_walkthrough as lw

    if args.steps > 10_000:
        raise CLIError(f"--steps {args.steps} is more than this walk-through needs (at most 10000)")
    out = _out_dir(args.out)
    walk = lw.run_walkthrough(args.learning_rate, args.steps)
    for line in lw.report_lines(walk):
        _say(line)

    def draw() -> list[Path]:
        from .plotting import plot_loss_surface

        m_range, b_range = lw.plot_window(walk)
        return plot_loss_surface(lw.mse_surface, walk.path, out / "loss_surface.png",
                                 out / "loss_contour.png", m_range, b_range, minimum=lw.BEST,
                                 title=f"MSE of y-hat = m x + b, learning rate {args.learning_rate:g}")

    written = _try_plots(draw)
    if written:
        _say("")
        _say("Wrote " + ", ".join(str(p) for p in written))
    return 0


# --------------------------------------------------------------------------- plot
def cmd_plot_activations(args: argparse.Namespace) -> int:
    """``netcore plot activations``: one PNG; fails (status 1) without matplotlib."""
    from . import activations
    from .plotting import SOFTMAX_EXAMPLE, plot_activations

    z = np.asarray(SOFTMAX_EXAMPLE)
    probs = activations.softmax(z)
    _say(f"softmax([{', '.join(f'{v:g}' for v in z)}]) = "
         f"[{', '.join(f'{p:.3f}' for p in probs)}] (sums to {float(np.sum(probs)):.3f})")
    out = _out_dir(args.out)
    path = plot_activations(out / "activations.png")
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


_CUPY_DISTS = ("cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy")


def gpu_lines() -> list[str]:
    """The GPU(s) CuPy sees, with memory; or why there is none."""
    from .backend.cuda import simulator_enabled

    if simulator_enabled():
        return ["GPU: none used (the numba CUDA simulator is on; kernels run on the CPU)"]
    try:
        import cupy
    except ImportError:
        return ["GPU: unknown (CuPy is not installed)"]
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return [f"GPU: none usable ({_one_line(exc)})"]
    if count < 1:
        return ["GPU: none found"]
    lines = []
    for i in range(count):
        try:
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            total = int(props["totalGlobalMem"])
            with cupy.cuda.Device(i):
                free, _ = cupy.cuda.runtime.memGetInfo()
            lines.append(f"GPU {i}: {name}, {total / 2**30:.1f} GiB memory ({free / 2**30:.1f} GiB free), "
                         f"compute capability {props['major']}.{props['minor']}")
        except Exception as exc:
            lines.append(f"GPU {i}: could not be queried ({_one_line(exc)})")
    try:
        lines.append(f"CUDA driver {_cuda_version(cupy.cuda.runtime.driverGetVersion())}, "
                     f"runtime {_cuda_version(cupy.cuda.runtime.runtimeGetVersion())}")
    except Exception:
        pass
    return lines


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def info_lines() -> list[str]:
    """What ``netcore info`` prints."""
    import platform

    from . import __version__, backend_status
    from .backend.cuda import simulator_enabled

    lines = [f"netcore {__version__} (Python {platform.python_version()}, NumPy {np.__version__})",
             "Backends:"]
    for name, (ok, reason) in backend_status().items():
        lines.append(f"  {name:<5} {'available' if ok else 'unavailable'}: {reason}")
    lines += gpu_lines()
    lines.append(f"CuPy: {_dist_version(*_CUPY_DISTS, show_name=True) or 'not installed'}")
    lines.append(f"numba: {_dist_version('numba') or 'not installed'}")
    lines.append(f"numba-cuda: {_dist_version('numba-cuda') or 'not installed'}")
    sim = os.environ.get("NUMBA_ENABLE_CUDASIM", "")
    lines.append(f"CUDA simulator: {'ON' if simulator_enabled() else 'off'} "
                 f"(NUMBA_ENABLE_CUDASIM={sim if sim else 'unset'})")
    env = os.environ.get("NETCORE_BACKEND")
    lines.append(f"Default backend: {env or 'auto'}"
                 + (" (from NETCORE_BACKEND)" if env else " (NETCORE_BACKEND unset)"))
    lines.append(f"Plotting: matplotlib {_dist_version('matplotlib') or 'not installed: pip install netcore[plot]'}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    """``netcore info``: versions, backends and the GPU."""
    for line in info_lines():
        _say(line)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
