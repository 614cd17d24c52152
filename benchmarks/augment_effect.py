"""Does augmentation narrow the gap between training and validation accuracy? And what does it
cost per training step on the CPU?

Effect: the same small CNN, the same seed (the augmentation layers draw no weights, so both
start from identical weights), the same epochs, with and without ``RandomRotation(10/360)``,
``RandomZoom(0.1)``, ``RandomTranslation(0.1, 0.1)`` (the course's settings, without its flip:
digits and clothes are not mirror-symmetric in general) in front. A small training subset, so
that the plain network overfits within a few epochs on a shared 2-core machine. Recorded per
epoch: accuracy on the (augmented) batches, validation accuracy; at the end the accuracy on
the clean training subset, and the gap ``clean training accuracy - validation accuracy``.

Cost: one ``train_on_batch`` of the course CNN (75/50/25 filters, batch norm, dropout, 24
classes) at batch 32, with and without the three augmentation layers, timed interleaved,
fastest of several rounds.

    python benchmarks/augment_effect.py --dataset fashion_mnist --out benchmarks/results/augment_fashion_mnist.json
    python benchmarks/augment_effect.py --cost --out benchmarks/results/augment_step_cost_cpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import write_json_result  # noqa: E402
from netcore.datasets import fashion_mnist, mnist  # noqa: E402
from netcore.layers import (  # noqa: E402
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from netcore.models import Sequential  # noqa: E402


def augmentation() -> list:
    return [RandomRotation(10 / 360), RandomZoom(0.1), RandomTranslation(0.1, 0.1)]


def small_cnn(aug: bool, seed: int) -> Sequential:
    head = [
        Conv2D(16, 3, padding="same", activation="relu"),
        MaxPooling2D(2),
        Conv2D(32, 3, padding="same", activation="relu"),
        MaxPooling2D(2),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ]
    model = Sequential((augmentation() if aug else []) + head, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((28, 28, 1))
    return model


def course_cnn(aug: bool, seed: int) -> Sequential:
    head = [
        Conv2D(75, 3, padding="same", activation="relu"),
        BatchNormalization(),
        MaxPooling2D(2, strides=2, padding="same"),
        Conv2D(50, 3, padding="same", activation="relu"),
        Dropout(0.2),
        BatchNormalization(),
        MaxPooling2D(2, strides=2, padding="same"),
        Conv2D(25, 3, padding="same", activation="relu"),
        BatchNormalization(),
        MaxPooling2D(2, strides=2, padding="same"),
        Flatten(),
        Dense(512, activation="relu"),
        Dropout(0.3),
        Dense(24, activation="softmax"),
    ]
    model = Sequential((augmentation() if aug else []) + head, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.build((28, 28, 1))
    return model


def load(name: str, n_train: int, n_val: int) -> tuple:
    if name == "fashion_mnist":
        (x, y), (xv, yv) = fashion_mnist.load_data()
    else:
        (x, y), (xv, yv) = mnist.load_bundled()
    prep = lambda a: np.asarray(a, np.float32).reshape(-1, 28, 28, 1) / 255.0  # noqa: E731
    return prep(x[:n_train]), np.asarray(y[:n_train]), prep(xv[:n_val]), np.asarray(yv[:n_val])


def effect(args: argparse.Namespace) -> dict:
    x, y, xv, yv = load(args.dataset, args.train, args.val)
    runs = {}
    for aug in (False, True):
        model = small_cnn(aug, args.seed)
        t0 = time.perf_counter()
        hist = model.fit(
            x, y, epochs=args.epochs, batch_size=32, validation_data=(xv, yv), verbose=0
        )
        seconds = time.perf_counter() - t0
        scores: Any = model.evaluate(x, y, verbose=0, return_dict=True)
        clean = scores["accuracy"]
        val = hist.history["val_accuracy"][-1]
        runs["with_augmentation" if aug else "without_augmentation"] = {
            "accuracy": [round(float(a), 4) for a in hist.history["accuracy"]],
            "val_accuracy": [round(float(a), 4) for a in hist.history["val_accuracy"]],
            "final_train_accuracy_clean": round(float(clean), 4),
            "final_val_accuracy": round(float(val), 4),
            "gap": round(float(clean - val), 4),
            "fit_seconds": round(seconds, 1),
        }
        print(args.dataset, "aug" if aug else "plain", runs[list(runs)[-1]], flush=True)
    return {
        "what": "train/validation accuracy gap, same CNN and seed, with and without augmentation",
        "dataset": args.dataset,
        "train_samples": args.train,
        "val_samples": args.val,
        "epochs": args.epochs,
        "batch_size": 32,
        "seed": args.seed,
        "augmentation": "RandomRotation(10/360), RandomZoom(0.1), RandomTranslation(0.1, 0.1)",
        "network": "Conv2D(16,3,same,relu)-MaxPool2-Conv2D(32,3,same,relu)-MaxPool2-Dense(64,relu)-Dense(10)",
        **runs,
    }


def cost(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((32, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 24, 32)
    models = {aug: course_cnn(aug, args.seed) for aug in (False, True)}
    for m in models.values():  # warm-up: buffers, first-call paths
        for _ in range(3):
            m.train_on_batch(x, y)
    layers = models[True].layers[:3]

    def augment_only() -> None:
        h = x
        for layer in layers:
            h = layer.forward(h, training=True)

    best = {False: float("inf"), True: float("inf"), "layers": float("inf")}
    for _ in range(args.rounds):
        for key, step in (
            (False, lambda: models[False].train_on_batch(x, y)),
            (True, lambda: models[True].train_on_batch(x, y)),
            ("layers", augment_only),
        ):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            best[key] = min(best[key], (time.perf_counter() - t0) / args.steps)
    plain, aug, alone = best[False] * 1e3, best[True] * 1e3, best["layers"] * 1e3
    return {
        "what": "CPU time of one train_on_batch of the course CNN at batch 32, with and without "
        "the three augmentation layers in front (interleaved, fastest of rounds)",
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "step_ms_without": round(plain, 2),
        "step_ms_with": round(aug, 2),
        "augmentation_share": round((aug - plain) / plain, 4),
        "augmentation_layers_ms": round(alone, 3),
        "augmentation_layers_share": round(alone / plain, 4),
        "target_share": 0.15,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["fashion_mnist", "mnist"], default="fashion_mnist")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cost", action="store_true", help="measure the per-step cost instead")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    body = cost(args) if args.cost else effect(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_result(args.out, body)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
