"""``netcore predict IMAGE... --model FILE``: a saved model's class for each image file.

Each image is read as the model's input needs it: grayscale for an input ``(h, w)``,
``(h, w, 1)`` or ``(h*w,)`` with ``h == w``, colour for ``(h, w, 3)``; resized to ``(h, w)``
(nearest neighbour, as ``load_img`` does by default) and scaled to 0-1 as the course scales its
pixels. The class names come from ``--classes`` (a data set's name, or the names separated by
commas), else from the ``history.json`` that ``netcore train`` wrote beside the model, else
the class numbers are printed (:func:`dataset_class_names`). The model file itself holds no
class names: a model saved from Python is used with ``--classes``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..preprocessing.image import img_to_array, load_img
from ..saving.loader import load_model
from ._common import DATASETS, HISTORY_FILE, CLIError, _say


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``predict`` command's options."""
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="classify image files with a saved model",
        description="Print the class and its probability for each image file (PNG, JPEG, "
        "colour or grey, any size: converted and resized to the model's input, pixels "
        "scaled to 0-1 as in the course).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--model", metavar="FILE", required=True, help="a model saved with save()")
    p.add_argument(
        "--classes",
        metavar="NAMES",
        help=f"the class names: a data set ({', '.join(DATASETS)}) or names separated by "
        "commas; default: the data set in the history.json beside the model, else numbers",
    )
    p.set_defaults(handler="cmd_predict")


def image_input(path: str, input_shape: tuple[int, ...]) -> np.ndarray:
    """The image at ``path`` as one sample of ``input_shape``, pixels scaled to 0-1."""
    shape = tuple(input_shape)
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        size, mode = (math.isqrt(shape[0]),) * 2, "grayscale"
    elif len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        size, mode = (shape[0], shape[1]), "grayscale"
    elif len(shape) == 3 and shape[2] == 3:
        size, mode = (shape[0], shape[1]), "rgb"
    else:
        raise CLIError(
            f"the model's input shape {shape} is not an image: expected (h, w), (h, w, 1), "
            "(h, w, 3) or (h*w,) with h == w"
        )
    img = load_img(path, color_mode=mode, target_size=(int(size[0]), int(size[1])))
    return (img_to_array(img) / np.float32(255.0)).reshape(shape)


def dataset_class_names(name: str, units: int) -> list[str]:
    """The class names of data set ``name`` for a model of ``units`` classes: the digits, the
    clothing names, or the letters. Sign-Language-MNIST has two numberings: Kaggle's, A-Y as
    0-24 (J = 9 never occurs: 25 classes), and the course's, the 24 letters that occur as 0-23
    (no J, no Z); a 24-class model gets the course's."""
    from .. import datasets

    module = datasets.get(name)
    names = list(getattr(module, "CLASS_NAMES", None) or module.LETTERS)
    if units == len(names) - 1 and "J" in names:
        names.remove("J")
    return names


def class_names(model_file: Path, classes: str | None, units: int) -> list[str]:
    """The name of each of the model's ``units`` classes (see the module's doc)."""
    names: list[str] | None = None
    if classes is not None:
        given = classes.split(",")
        names = dataset_class_names(classes, units) if classes in DATASETS else given
        names = [n.strip() for n in names]
        if len(names) != units:
            raise CLIError(
                f"--classes gives {len(names)} names but the model has {units} classes. "
                f"Received: --classes {classes}"
            )
        return names
    try:
        dataset = json.loads((model_file.parent / HISTORY_FILE).read_text())["data"]["dataset"]
        names = dataset_class_names(dataset, units)
    except (OSError, ValueError, KeyError, TypeError):
        names = None
    if names is None or len(names) != units:
        return [str(k) for k in range(units)]
    return names


def cmd_predict(args: argparse.Namespace) -> int:
    """``netcore predict``: load the model, read every image, print each one's class."""
    model_file = Path(args.model).expanduser()
    if not model_file.is_file():
        raise CLIError(f"model file {model_file} does not exist")
    model = load_model(model_file)
    units = int(model.output_shape[-1])
    names = class_names(model_file, args.classes, units)
    x = np.stack([image_input(path, model.input_shape) for path in args.images])
    out = np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)
    head = getattr(model.layers[-1], "activation", None)
    for path, row in zip(args.images, out):
        if head == "sigmoid" and units == 1:  # one unit: the probability of class 1
            k = int(row[0] >= 0.5)
            p = row[0] if k else 1.0 - row[0]
        else:
            k = int(np.argmax(row))
            p = row[k]
        what = "probability" if head in ("softmax", "sigmoid") else "score"
        _say(f"{path}: {names[k] if units > 1 else k} ({what} {p:.4f})")
    return 0
