"""``netcore train``: load a data set, fit the course MLP or CNN, report, write model, history,
plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import Callback
from ..course import build_cnn, build_mlp, overfitting_advice
from ._common import HISTORY_FILE, MODEL_FILE, CLIError, _out_dir, _say, _try_plots
from ._data import _limited, _prep, _split


def _data_parallel_under_mpiexec() -> Any:
    """Under mpiexec: train data-parallel across the ranks (rank 0 prints and writes files)."""
    from .. import distribution

    if distribution.get_distribution() is None and distribution.launched_by_mpi():
        distribution.set_distribution(distribution.DataParallel())
    return distribution.active()


class _EpochKeeper(Callback):
    """Saves the model at the end of every epoch, so that Ctrl-C (or a killed run) keeps
    what was trained: the last completed epoch's model (rank 0 alone writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch = 0  # the last epoch (counted from 1) whose model is in ``path``

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.model.save(self.path)
        self.epoch = epoch + 1


def _evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` of the model on ``(x, y)``."""
    return dict(model.evaluate(x, y, batch_size=batch_size, return_dict=True))


def _fmt_logs(logs: dict[str, float], prefix: str = "") -> str:
    return f"loss {logs[prefix + 'loss']:.4f}, accuracy {logs[prefix + 'accuracy']:.4f}"


def _build(args: argparse.Namespace, num_classes: int) -> tuple[Any, dict[str, Any]]:
    """The course MLP (``--hidden``, ``--dropout``) or the course CNN (its own fixed layers),
    built for 28x28 images (the CNN's with their channel axis, 28x28x1), and its settings for
    the history file."""
    if args.model == "cnn":
        given = [f"--{name}" for name in ("hidden", "dropout") if getattr(args, name) is not None]
        if given:
            raise CLIError(
                f"{' and '.join(given)} shape the MLP only; the course CNN has fixed layers "
                "(drop the option, or use --model mlp)"
            )
        model = build_cnn(num_classes, seed=args.seed, backend=args.backend)
        settings: dict[str, Any] = {"model": "cnn"}
    else:
        hidden = (512, 512) if args.hidden is None else args.hidden
        dropout = 0.0 if args.dropout is None else args.dropout
        model = build_mlp(num_classes, hidden, dropout, args.backend, args.seed)
        settings = {"model": "mlp", "hidden": list(hidden), "dropout": dropout}
    model.build()
    return model, settings


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

    model, settings = _build(args, data.num_classes)
    kwargs = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
    optimizer = optimizers.get(args.optimizer, **kwargs)
    jit = "auto" if args.jit is None else args.jit
    model.compile(
        optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=jit
    )
    model.summary(print_fn=_say)
    cbs: list[Callback] = []
    early = None
    if args.patience is not None:
        if x_val is None:
            raise CLIError("--patience needs a validation set; set --validation-split above 0")
        early = callbacks.EarlyStopping(
            monitor="val_loss", patience=args.patience, restore_best_weights=True
        )
        cbs.append(early)
    shape = model.input_shape
    xt, yt = _prep(x_tr, y_tr, data.num_classes, shape)
    val = None if x_val is None or y_val is None else _prep(x_val, y_val, data.num_classes, shape)
    keeper = _EpochKeeper(out / MODEL_FILE)
    cbs.append(keeper)
    # The model itself stops with NonFiniteLossError on a NaN/inf loss; NumPy's overflow
    # warnings on the way there would only bury that message.
    try:
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
    except KeyboardInterrupt:
        _say("")
        if keeper.epoch:
            _say(f"Interrupted: the model of epoch {keeper.epoch} is saved in {keeper.path}.")
        else:
            _say("Interrupted before the first epoch ended: no model saved.")
        return 130
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
        test = _evaluate(model, *_prep(x_te, y_te, data.num_classes, shape), eval_batch)
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
            **settings,
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
