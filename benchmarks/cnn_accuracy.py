"""Does the course CNN learn what the course says? Accuracy runs with its network (24 classes
changed to 10), compiled as the course does (categorical cross-entropy, accuracy, Keras'
default RMSprop), batch 32, seed 0:

* ``mnist``: the MNIST test set shipped with netcore, 8,000 images to train on and 2,000 to
  validate on (``mnist.load_bundled()``), 5 epochs; target: validation accuracy >= 0.97;
* ``fashion``: the full Fashion-MNIST training set (60,000; Debian's ``dataset-fashion-mnist``
  puts it in /usr/share/datasets/fashion-mnist/), 10 epochs, evaluated on its 10,000-image
  test set after every epoch; target: test accuracy >= 0.91;
* ``mnist_dense``, ``fashion_dense``: the same data, epochs and optimizer with the course's
  dense network (``build_mlp``: 784-512-512-10), for the comparison of docs/cnn.md
  (parameters, accuracy, the gap between training and held-out accuracy).

Pixels are scaled to 0-1 and given their channel axis, 28x28x1. Each run records per epoch the
training loss and accuracy, the held-out accuracy, and the seconds the epoch's training took,
in one entry of the JSON file (``--json``, other runs' entries kept), rewritten after every
epoch so that a run stopped early still leaves what it reached; with the commit, whether the
tree was clean, the machine and the date. A Markdown table beside it (``.md``) says the same.

    PYTHONPATH=. python benchmarks/cnn_accuracy.py --run mnist
    PYTHONPATH=. nohup python benchmarks/cnn_accuracy.py --run fashion > fashion.log &
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "cnn_accuracy_cpu.json"
#: name: (epochs, target held-out accuracy or None, what is held out)
RUNS: dict[str, tuple[int, float | None, str]] = {
    "mnist": (5, 0.97, "validation"),
    "fashion": (10, 0.91, "test"),
    "mnist_dense": (5, None, "validation"),
    "fashion_dense": (10, None, "test"),
}


def model_of(run: str) -> str:
    """``"dense"`` for the ``*_dense`` runs, else ``"cnn"``."""
    return "dense" if run.endswith("_dense") else "cnn"


def load(run: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_held_out, y_held_out``: uint8 images and labels."""
    from netcore.datasets import fashion_mnist, mnist

    if run.startswith("mnist"):
        (x, y), (xv, yv) = mnist.load_bundled()
    else:
        (x, y), (xv, yv) = fashion_mnist.load_data(download=False)
    return x, y, xv, yv


def prep(x: np.ndarray, y: np.ndarray, channel: bool) -> tuple[np.ndarray, np.ndarray]:
    from netcore.utils import to_categorical

    pixels = x.astype(np.float32) / np.float32(255.0)
    return (pixels[..., None] if channel else pixels), to_categorical(y, 10)


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "clean": git("status", "--porcelain") == ""}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
    }


def train(run: str, epochs: int, batch_size: int, out: Path, limit: int | None) -> dict:
    from netcore import callbacks
    from netcore.course import build_cnn, build_mlp

    x, y, xv, yv = load(run)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    cnn = model_of(run) == "cnn"
    xt, yt = prep(x, y, cnn)
    xh, yh = prep(xv, yv, cnn)
    _, target, held = RUNS[run]
    model = (
        build_cnn(num_classes=10, seed=0, backend="cpu")
        if cnn
        else build_mlp(10, (512, 512), backend="cpu", seed=0)
    )
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    model.build()
    record: dict[str, Any] = {
        "model": model_of(run),
        "params": model.count_params(),
        "data": {"train": len(xt), held: len(xh)},
        "held_out": held,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "rmsprop (Keras defaults)",
        "target": target,
        "per_epoch": {"loss": [], "accuracy": [], f"{held}_accuracy": [], "seconds": []},
        "finished": False,
        **git_state(),
        "machine": machine(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }

    class Recorder(callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.perf_counter() - self.start  # training only: evaluation follows
            ev: Any = model.evaluate(xh, yh, batch_size=256, return_dict=True, verbose=0)
            per = record["per_epoch"]
            per["loss"].append(float((logs or {})["loss"]))
            per["accuracy"].append(float((logs or {})["accuracy"]))
            per[f"{held}_accuracy"].append(float(ev["accuracy"]))
            per["seconds"].append(round(seconds, 1))
            record["finished"] = epoch + 1 == epochs
            record["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            )
            save(out, run, record)
            print(
                f"{run} epoch {epoch + 1}/{epochs}: loss {per['loss'][-1]:.4f}, accuracy "
                f"{per['accuracy'][-1]:.4f}, {held} accuracy {ev['accuracy']:.4f}, "
                f"{seconds:.0f} s",
                flush=True,
            )

    model.fit(xt, yt, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[Recorder()])
    return record


def save(out: Path, run: str, record: dict[str, Any]) -> None:
    """Write ``record`` as ``run``'s entry of ``out`` (other entries kept), and the table."""
    data = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    data["runs"][run] = record
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(out)
    out.with_suffix(".md").write_text(table(data))


def table(data: dict[str, Any]) -> str:
    lines = [
        "# The course CNN (10 classes): accuracy per epoch",
        "",
        "Written by `benchmarks/cnn_accuracy.py` (batch 32, RMSprop defaults, seed 0, CPU).",
        "Seconds: the epoch's training alone.",
        "",
    ]
    for run, rec in data["runs"].items():
        held = rec["held_out"]
        target = f"target {held} accuracy >= {rec['target']}" if rec["target"] else "no target"
        per = rec["per_epoch"]
        lines += [
            f"## {run} ({rec.get('model', model_of(run))}): {rec['data']['train']:,} training images, {rec['data'][held]:,} "
            f"{held} images, {len(per['loss'])} of {rec['epochs']} epochs",
            "",
            f"commit {rec['commit'][:10]}{'' if rec['clean'] else ' (uncommitted changes)'}, "
            f"{rec['machine']['cpu']}, {rec['machine']['cores']} cores, {rec['date']}; {target}",
            "",
            f"| epoch | loss | accuracy | {held} accuracy | seconds |",
            "|---|---|---|---|---|",
        ]
        for i in range(len(per["loss"])):
            lines.append(
                f"| {i + 1} | {per['loss'][i]:.4f} | {per['accuracy'][i]:.4f} | "
                f"{per[f'{held}_accuracy'][i]:.4f} | {per['seconds'][i]:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", choices=(*RUNS, "all"), default="all")
    p.add_argument("--epochs", type=int, default=None, help="default: the run's own (5, 10)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    missed = []
    for run in RUNS if args.run == "all" else (args.run,):
        epochs = args.epochs or RUNS[run][0]
        rec = train(run, epochs, args.batch_size, args.json, args.limit)
        best = rec["per_epoch"][f"{rec['held_out']}_accuracy"][-1]
        if rec["target"] is not None and best < rec["target"]:
            missed.append(f"{run}: {best:.4f} < {rec['target']}")
    for line in missed:
        print("target missed:", line)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
