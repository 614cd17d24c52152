"""Which Keras 3 names netcore has, as data: the table in README.md and docs/api.md is made from
:data:`KERAS_NAMES` (``tests/test_keras_support.py`` checks both pages against it), and asking
one of netcore's packages for a Keras name it does not have raises
:class:`NotInNetcoreError` naming it and pointing to that table.

Each of ``netcore.layers``, ``netcore.losses``, ``netcore.metrics``, ``netcore.optimizers`` and
``netcore.callbacks`` ends with::

    def __getattr__(name):
        raise_missing(__name__, name)

Python calls a module's ``__getattr__`` only for names the module lacks, so the names it has
are untouched, and a name Keras does not have either gets the ordinary ``AttributeError``.
:class:`NotInNetcoreError` is an ``ImportError``, not an ``AttributeError``: Python turns an
``AttributeError`` raised during ``from netcore.layers import LSTM`` into a bare "cannot import
name", dropping the message that says where to look.
"""

from __future__ import annotations

from typing import NoReturn

from .errors import NetcoreError

__all__ = ["KERAS_NAMES", "NotInNetcoreError", "raise_missing", "markdown_table"]

#: Where the table is, as the error message names it.
TABLE_PLACE = "the table 'Keras names in netcore' in README.md and docs/api.md"

#: For each kind (the netcore module that would hold it): Keras 3 names netcore has, and those
#: it does not. Names being added on other branches now (augmentation layers, three losses,
#: the callbacks and schedules) are listed as present.
KERAS_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "layers": {
        "has": (
            "Input", "Dense", "Activation", "Flatten", "Dropout", "Reshape",
            "Conv2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
            "GlobalAveragePooling2D", "BatchNormalization", "RandomFlip", "RandomRotation", "RandomZoom",
            "RandomTranslation",
        ),
        "not": (
            "Conv1D", "Conv3D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D",
            "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
            "UpSampling2D", "ZeroPadding2D", "Cropping2D", "LayerNormalization",
            "GroupNormalization", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
            "TimeDistributed", "Attention", "MultiHeadAttention", "Add", "Concatenate",
            "Multiply", "Average", "Lambda", "Masking", "Permute", "RepeatVector", "ReLU",
            "LeakyReLU", "PReLU", "ELU", "Softmax", "SpatialDropout2D", "GaussianNoise",
            "GaussianDropout", "Rescaling", "Normalization", "Resizing", "CenterCrop",
            "RandomCrop", "RandomContrast", "RandomBrightness", "TextVectorization",
            "StringLookup", "IntegerLookup", "CategoryEncoding", "InputLayer",
        ),
    },
    "losses": {
        "has": (
            "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
            "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence",
        ),
        "not": (
            "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy",
            "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "LogCosh", "Poisson",
            "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge", "CTC", "Dice",
            "Tversky",
        ),
    },
    "metrics": {
        "has": (
            "BinaryAccuracy", "CategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
            "RootMeanSquaredError",
        ),
        "not": (
            "Accuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
            "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "F1Score",
            "FBetaScore", "MeanIoU", "R2Score", "Mean", "Sum", "MeanAbsolutePercentageError",
            "CosineSimilarity", "KLDivergence",
        ),
    },
    "optimizers": {
        "has": ("SGD", "Adam", "RMSprop", "Adagrad"),
        "not": ("AdamW", "Adamax", "Nadam", "Adadelta", "Ftrl", "Lion", "LossScaleOptimizer"),
    },
    "optimizers.schedules": {
        "has": (
            "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "InverseTimeDecay",
        ),
        "not": ("PolynomialDecay", "CosineDecayRestarts"),
    },
    "callbacks": {
        "has": (
            "Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
            "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN",
            "BackupAndRestore",
        ),
        "not": ("TensorBoard", "ProgbarLogger", "RemoteMonitor", "SwapEMAWeights"),
    },
}  # fmt: skip


class NotInNetcoreError(NetcoreError, ImportError):
    """A Keras name netcore does not have (``netcore.layers.LSTM``); the message names it and
    points to the table of what netcore has."""


def raise_missing(module: str, name: str) -> NoReturn:
    """A module's ``__getattr__``: :class:`NotInNetcoreError` for a Keras name listed as
    missing from ``module`` (``"netcore.layers"``), the usual ``AttributeError`` otherwise."""
    kind = module.removeprefix("netcore.")
    names = KERAS_NAMES.get(kind)
    if names is not None and name in names["not"]:
        raise NotInNetcoreError(
            f"{module}.{name}: Keras' {name} is not in netcore. What netcore has from "
            f"keras.{kind}: {', '.join(names['has'])}; every Keras name netcore has or lacks "
            f"is in {TABLE_PLACE}",
            name=name,
        )
    raise AttributeError(f"module {module!r} has no attribute {name!r}", name=name)


def markdown_table() -> str:
    """The Markdown table of :data:`KERAS_NAMES` that README.md and docs/api.md carry."""
    rows = [
        "| Keras module | In netcore | Not in netcore |",
        "|---|---|---|",
    ]
    for kind, names in KERAS_NAMES.items():
        has = ", ".join(f"`{n}`" for n in names["has"])
        lacks = ", ".join(f"`{n}`" for n in names["not"])
        rows.append(f"| `keras.{kind}` | {has} | {lacks} |")
    return "\n".join(rows) + "\n"
