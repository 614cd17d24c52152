"""A built model as an ONNX graph, for inference with any ONNX runtime (no netcore needed).

The graph computes ``predict``: input ``"input"`` of shape ``(batch, *input_shape)`` in the
model's dtype (float32 or float64), output ``"output"`` of shape ``(batch, *output_shape)``
(probabilities where the last layer has softmax/sigmoid); ``batch`` is a dynamic axis.
Inference semantics: layers whose ``identity_at_inference`` is True (``Dropout``, the
augmentation layers) are left out.

Opset 17 (ONNX 1.12, 2022; onnxruntime 1.12 and later run it), IR version 8: every op used
here has had its current meaning since opset 13 or earlier, and 17 is old enough for the
runtimes deployed today. One converter per layer class (:data:`CONVERTERS`); a layer without
one is refused by name before anything is written.

Per layer: ``Flatten`` -> ``Flatten(axis=1)``; ``Reshape`` -> ``Reshape(-1, *shape)``;
``Dense`` -> ``Gemm(x, kernel, bias)`` (``y = x W + b``) then its activation;
``Activation`` -> the activation alone, where relu -> ``Relu``, sigmoid -> ``Sigmoid``,
tanh -> ``Tanh``, softmax -> ``Softmax(axis=-1)``, linear -> nothing. The image layers keep
netcore's channels-last tensors: ``Conv2D``, ``MaxPooling2D`` and ``AveragePooling2D`` run
ONNX's ``Conv``/``MaxPool``/``AveragePool`` (channels first) between two ``Transpose`` nodes,
with explicit ``pads`` for "same"; ``GlobalAveragePooling2D`` -> ``ReduceMean`` over height
and width; ``BatchNormalization`` -> ``Mul`` and ``Add`` with its moving statistics folded
in (inference semantics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._version import __version__
from ..layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    MaxPooling2D,
    Reshape,
)

#: the ONNX opset the exported graphs import (default domain)
OPSET = 17
#: the ONNX IR version matching :data:`OPSET`
IR_VERSION = 8

_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "exporting to ONNX needs the onnx package: pip install 'netcore[onnx]'"
        ) from exc
    return onnx


class GraphBuilder:
    """Nodes and constant tensors of one graph, in the model's dtype."""

    def __init__(self, dtype: np.dtype) -> None:
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, value: Any, dtype: Any = None) -> str:
        """A weight (or other constant) as an initializer named ``name``, in the model's dtype
        unless ``dtype`` is given (shapes are int64)."""
        array = np.ascontiguousarray(value, dtype=dtype or self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        """One node ``name`` whose single output is also called ``name``."""
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def activation(self, activation: str, x: str, layer: str) -> str:
        op = _ACTIVATION_OPS.get(activation)
        if op is None:  # linear
            return x
        extra = {"axis": -1} if op == "Softmax" else {}
        return self.node(op, [x], f"{layer}/{activation}", **extra)


def _host(layer: Any, key: str) -> np.ndarray:
    return np.asarray(layer.backend.to_numpy(layer.params[key]))


def _dense(layer: Any, x: str, g: GraphBuilder) -> str:
    inputs = [x, g.const(f"{layer.name}/kernel", _host(layer, "kernel"))]
    if layer.use_bias:
        inputs.append(g.const(f"{layer.name}/bias", _host(layer, "bias")))
    return g.activation(layer.activation, g.node("Gemm", inputs, f"{layer.name}/gemm"), layer.name)


def _flatten(layer: Any, x: str, g: GraphBuilder) -> str:
    return g.node("Flatten", [x], f"{layer.name}/flatten", axis=1)


def _activation(layer: Any, x: str, g: GraphBuilder) -> str:
    return g.activation(layer.activation, x, layer.name)


def _identity(layer: Any, x: str, g: GraphBuilder) -> str:
    return x


def _reshape(layer: Any, x: str, g: GraphBuilder) -> str:
    shape = g.const(f"{layer.name}/shape", [-1, *layer.output_shape], dtype=np.int64)
    return g.node("Reshape", [x, shape], f"{layer.name}/reshape")


def _window_attributes(layer: Any, size: tuple[int, int]) -> dict[str, Any]:
    """ONNX ``kernel_shape``, ``strides`` and ``pads`` (top, left, bottom, right) of the
    layer's window: Keras' "same" puts the odd padding pixel bottom/right."""
    win = layer.win
    h, w = layer.input_shape[0], layer.input_shape[1]
    pb = max((win.ho - 1) * win.sh + win.kh - h, 0) - win.pt
    pr = max((win.wo - 1) * win.sw + win.kw - w, 0) - win.pl
    return {
        "kernel_shape": list(size),
        "strides": [win.sh, win.sw],
        "pads": [win.pt, win.pl, max(pb, 0), max(pr, 0)],
    }


def _channels_first(
    layer: Any, x: str, g: GraphBuilder, op: str, inputs: list[str], **at: Any
) -> str:
    """``op`` on NCHW (ONNX's layout) between two transposes: netcore's tensors stay NHWC."""
    nchw = g.node("Transpose", [x], f"{layer.name}/to_nchw", perm=[0, 3, 1, 2])
    y = g.node(op, [nchw, *inputs], f"{layer.name}/{op.lower()}", **at)
    return g.node("Transpose", [y], f"{layer.name}/to_nhwc", perm=[0, 2, 3, 1])


def _conv2d(layer: Any, x: str, g: GraphBuilder) -> str:
    # netcore's kernel (kh, kw, C_in, F) is ONNX's weight (F, C_in, kh, kw)
    inputs = [g.const(f"{layer.name}/kernel", _host(layer, "kernel").transpose(3, 2, 0, 1))]
    if layer.use_bias:
        inputs.append(g.const(f"{layer.name}/bias", _host(layer, "bias")))
    at = _window_attributes(layer, layer.kernel_size)
    y = _channels_first(layer, x, g, "Conv", inputs, **at)
    return g.activation(layer.activation, y, layer.name)


def _max_pool(layer: Any, x: str, g: GraphBuilder) -> str:
    # ONNX pads MaxPool with -inf: padding never wins, as in netcore
    return _channels_first(layer, x, g, "MaxPool", [], **_window_attributes(layer, layer.pool_size))


def _average_pool(layer: Any, x: str, g: GraphBuilder) -> str:
    at = _window_attributes(layer, layer.pool_size)
    # count_include_pad=0: the mean of the real inputs of each window, as netcore and Keras
    return _channels_first(layer, x, g, "AveragePool", [], count_include_pad=0, **at)


def _global_average_pool(layer: Any, x: str, g: GraphBuilder) -> str:
    return g.node("ReduceMean", [x], f"{layer.name}/mean", axes=[1, 2], keepdims=0)


def _batch_norm(layer: Any, x: str, g: GraphBuilder) -> str:
    """Inference: ``y = x * s + t`` with ``s = gamma / sqrt(moving_var + eps)`` and ``t = beta -
    moving_mean * s`` (folded in float64), broadcast along the layer's axis."""
    be = layer.backend
    mean = np.asarray(be.to_numpy(layer.state["moving_mean"]), dtype=np.float64)
    var = np.asarray(be.to_numpy(layer.state["moving_variance"]), dtype=np.float64)
    gamma = _host(layer, "gamma").astype(np.float64) if layer.scale else 1.0
    beta = _host(layer, "beta").astype(np.float64) if layer.center else 0.0
    scale = gamma / np.sqrt(var + layer.epsilon)
    shift = beta - mean * scale
    trailing = (1,) * (len(layer.input_shape) - layer._ax)  # axes after the channel axis
    s = g.const(f"{layer.name}/scale", scale.reshape(-1, *trailing))
    t = g.const(f"{layer.name}/shift", shift.reshape(-1, *trailing))
    return g.node("Add", [g.node("Mul", [x, s], f"{layer.name}/mul"), t], f"{layer.name}/add")


#: how each layer class becomes ONNX nodes: ``(layer, input name, builder) -> output name``
CONVERTERS: dict[type, Callable[[Any, str, GraphBuilder], str]] = {
    Dense: _dense,
    Flatten: _flatten,
    Activation: _activation,
    Reshape: _reshape,
    Conv2D: _conv2d,
    MaxPooling2D: _max_pool,
    AveragePooling2D: _average_pool,
    GlobalAveragePooling2D: _global_average_pool,
    BatchNormalization: _batch_norm,
}


def _converter(layer: Any) -> Callable[[Any, str, GraphBuilder], str] | None:
    if getattr(layer, "identity_at_inference", False):
        return _identity
    return CONVERTERS.get(type(layer))


def check_exportable(model: Any) -> None:
    """Refuse an unbuilt model, or one with a layer that has no ONNX form (named)."""
    model._require_built("export")
    for layer in model.layers:
        if _converter(layer) is None:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) cannot be exported to ONNX: "
                f"the exportable layers are {sorted(c.__name__ for c in CONVERTERS)} and those "
                "that are the identity at inference (Dropout, the augmentation layers), left out"
            )


def build_onnx(model: Any) -> Any:
    """The ONNX ``ModelProto`` of a built model, checked with ``onnx.checker``."""
    check_exportable(model)
    g = GraphBuilder(model.dtype)
    onnx = g.onnx
    x = "input"
    for layer in model.layers:
        convert = _converter(layer)
        assert convert is not None  # check_exportable
        x = convert(layer, x, g)
    g.node("Identity", [x], "output")
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    graph = onnx.helper.make_graph(
        g.nodes,
        model.name,
        [onnx.helper.make_tensor_value_info("input", elem, ["batch", *model.input_shape])],
        [onnx.helper.make_tensor_value_info("output", elem, ["batch", *model.output_shape])],
        initializer=g.initializers,
    )
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="netcore",
        producer_version=__version__,
        ir_version=IR_VERSION,
        doc_string=f"netcore Sequential {model.name!r}: predict() as an ONNX graph",
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto
