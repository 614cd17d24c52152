"""Kernel-vs-reference cases shared by the CPU, simulator and GPU kernel tests.

Each ``check_*`` runs one fused op of ``be`` (the backend under test) and the NumPy
reference (:class:`netcore.backend.base.Backend` over NumPy) on the same fresh random
inputs and asserts they agree. Outputs handed to ``be`` are POISONED with NaN first, so an
element a kernel forgets to write fails the comparison. :data:`ALL_CHECKS` has one entry
per kernel of :data:`netcore.kernels.SPECS` (a kernel without cases fails at import).
Importable as ``kernel_cases`` from any test (``tests/`` is on ``sys.path``: its conftest).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from netcore.backend.base import ACTIVATIONS, NONFINITE_UPDATE, Backend
from netcore.kernels import SPECS

REF = Backend(np, seed=0)

#: Odd shapes: one row, one element, not multiples of any block size, > one block wide.
SHAPES = [(1, 1), (1, 7), (33, 17), (3, 257)]


def tolerances(dtype: Any) -> tuple[float, float]:
    """(rtol, atol relative to the reference's largest magnitude) per dtype."""
    return (2e-5, 2e-6) if np.dtype(dtype) == np.float32 else (1e-10, 1e-12)


def close(got: Any, want: Any, dtype: Any, what: str) -> None:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    rtol, atol = tolerances(dtype)
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, scale), err_msg=what)


def _dev(be: Backend, a: Any) -> Any:
    """A fresh device copy (the CPU backend's asarray would alias the host array)."""
    return be.asarray(np.array(a, copy=True))


def _poison(be: Backend, shape: tuple[int, ...], dtype: Any) -> Any:
    return _dev(be, np.full(shape, np.nan, dtype=dtype))


def _logits(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """N(0, 3) logits with some entries at +-1e4 (where naive formulas overflow)."""
    z = rng.normal(0.0, 3.0, size=shape)
    flat = z.reshape(-1)
    k = max(1, flat.size // 5)
    idx = rng.choice(flat.size, size=k, replace=False)
    flat[idx] = rng.choice([-1e4, 1e4], size=k)
    return z.astype(dtype)


# ---------------------------------------------------------------- bias + activation
def check_bias_act(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes: list[tuple[int, int]] = SHAPES
) -> None:
    np_ = be.to_numpy
    for shape in shapes:
        for act in ACTIVATIONS:
            for with_bias in (True, False):
                z = _logits(rng, shape, dtype)
                b = rng.normal(size=shape[1]).astype(dtype) if with_bias else None
                want = REF.bias_act(z.copy(), b, act, out=np.empty_like(z))
                what = f"bias_act {act} bias={with_bias} {shape} {np.dtype(dtype)}"
                bb = _dev(be, b) if b is not None else None
                out = _poison(be, shape, dtype)
                got = be.bias_act(_dev(be, z), bb, act, out=out)
                close(np_(got), want, dtype, what + " out=poisoned")
                close(np_(out), want, dtype, what + " (out array)")
                zz = _dev(be, z)
                got = be.bias_act(zz, bb, act, out=zz)  # in place
                close(np_(got), want, dtype, what + " in place")
                got = be.bias_act(_dev(be, z), bb, act)
                close(np_(got), want, dtype, what + " out=None")


def check_bias_act_grad(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes: list[tuple[int, int]] = SHAPES
) -> None:
    np_ = be.to_numpy
    for shape in shapes:
        for act in ACTIVATIONS:
            z = rng.normal(0.0, 2.0, size=shape).astype(dtype)
            y = REF.bias_act(z, None, act, out=np.empty_like(z))
            dy = rng.normal(size=shape).astype(dtype)
            want_dz, want_db = REF.bias_act_grad(
                dy.copy(), y, act, dz_out=np.empty_like(dy), db_out=np.empty(shape[1], dtype)
            )
            what = f"bias_act_grad {act} {shape} {np.dtype(dtype)}"
            dz, db = _poison(be, shape, dtype), _poison(be, (shape[1],), dtype)
            g_dz, g_db = be.bias_act_grad(_dev(be, dy), _dev(be, y), act, dz_out=dz, db_out=db)
            close(np_(g_dz), want_dz, dtype, what + " dz")
            close(np_(g_db), want_db, dtype, what + " db")
            close(np_(dz), want_dz, dtype, what + " dz_out array")
            close(np_(db), want_db, dtype, what + " db_out array")
            dyd = _dev(be, dy)  # dz_out = dy (in place), no db
            g_dz, g_db = be.bias_act_grad(dyd, _dev(be, y), act, dz_out=dyd, need_db=False)
            assert g_db is None, what
            close(np_(g_dz), want_dz, dtype, what + " in place")
            g_dz, g_db = be.bias_act_grad(_dev(be, dy), _dev(be, y), act)
            close(np_(g_dz), want_dz, dtype, what + " fresh outputs")
            close(np_(g_db), want_db, dtype, what + " fresh db")


# ---------------------------------------------------------------- loss heads
def check_softmax_xent(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes: list[tuple[int, int]] = SHAPES
) -> None:
    np_ = be.to_numpy
    for n, c in shapes:
        z = _logits(rng, (n, c), dtype)
        labels = rng.integers(0, c, size=n)
        onehot = np.eye(c, dtype=dtype)[labels]
        # rows that do not sum to 1 (Keras' -sum t log p; gradient T p - t)
        loose = (rng.random((n, c)) * (rng.random((n, 1)) * 3)).astype(dtype)
        weights = rng.random(n).astype(dtype) * 2
        for kind, target, sw in (
            ("one-hot", onehot, None),
            ("int64", labels.astype(np.int64), None),
            ("int32", labels.astype(np.int32), None),
            ("rows not summing to 1", loose, None),
            ("one-hot weighted", onehot, weights),
            ("int64 weighted", labels.astype(np.int64), weights),
            ("loose weighted", loose, weights),
        ):
            what = f"softmax_xent {kind} {(n, c)} {np.dtype(dtype)}"
            w_loss, w_grad = REF.softmax_xent(
                z.copy(), target, grad_out=np.empty_like(z), sample_weight=sw
            )
            dsw = None if sw is None else _dev(be, sw)
            grad = _poison(be, (n, c), dtype)
            loss, g = be.softmax_xent(
                _dev(be, z), _dev(be, target), grad_out=grad, sample_weight=dsw
            )
            assert np.ndim(np_(loss)) == 0, what + ": loss must be 0-d"
            close(np_(loss), w_loss, dtype, what + " loss")
            close(np_(g), w_grad, dtype, what + " grad")
            close(np_(grad), w_grad, dtype, what + " grad_out array")
            zz = _dev(be, z)  # grad written over the logits
            loss, g = be.softmax_xent(zz, _dev(be, target), grad_out=zz, sample_weight=dsw)
            close(np_(loss), w_loss, dtype, what + " loss (grad_out=logits)")
            close(np_(g), w_grad, dtype, what + " grad (grad_out=logits)")
            loss, g = be.softmax_xent(_dev(be, z), _dev(be, target), sample_weight=dsw)
            close(np_(g), w_grad, dtype, what + " grad (grad_out=None)")


def check_sigmoid_bce(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes: list[tuple[int, int]] = SHAPES
) -> None:
    np_ = be.to_numpy
    for shape in list(shapes) + [(5,)]:
        z = _logits(rng, shape, dtype)
        weights = rng.random(shape[0]).astype(dtype) * 2
        for kind, sw in (("hard", None), ("soft", None), ("soft weighted", weights)):
            t = (rng.random(shape) > 0.5) if kind == "hard" else rng.random(shape)
            t = t.astype(dtype)
            what = f"sigmoid_bce {kind} {shape} {np.dtype(dtype)}"
            w_loss, w_grad = REF.sigmoid_bce(
                z.copy(), t, grad_out=np.empty_like(z), sample_weight=sw
            )
            dsw = None if sw is None else _dev(be, sw)
            grad = _poison(be, shape, dtype)
            loss, g = be.sigmoid_bce(_dev(be, z), _dev(be, t), grad_out=grad, sample_weight=dsw)
            assert np.ndim(np_(loss)) == 0, what + ": loss must be 0-d"
            close(np_(loss), w_loss, dtype, what + " loss")
            close(np_(g), w_grad, dtype, what + " grad")
            close(np_(grad), w_grad, dtype, what + " grad_out array")
            zz = _dev(be, z)
            loss, g = be.sigmoid_bce(zz, _dev(be, t), grad_out=zz, sample_weight=dsw)
            close(np_(loss), w_loss, dtype, what + " loss (grad_out=logits)")
            close(np_(g), w_grad, dtype, what + " grad (grad_out=logits)")


# ---------------------------------------------------------------- optimizers
OPT_SHAPES = [(1,), (33, 17), (257,), (2, 3, 5)]


def _opt_cases() -> list[tuple[str, str, int, dict]]:
    """(label, method name, number of state tensors, scalar kwargs)."""
    return [
        ("sgd plain", "sgd_update", 0, dict(lr=0.1, momentum=0.0, nesterov=False)),
        ("sgd momentum", "sgd_update", 1, dict(lr=0.05, momentum=0.9, nesterov=False)),
        ("sgd nesterov", "sgd_update", 1, dict(lr=0.05, momentum=0.9, nesterov=True)),
        (
            "adam",
            "adam_update",
            2,
            dict(
                alpha=1e-3 * np.sqrt(1 - 0.999**3) / (1 - 0.9**3),
                beta_1=0.9,
                beta_2=0.999,
                epsilon=1e-7,
            ),
        ),
        ("rmsprop", "rmsprop_update", 1, dict(lr=1e-3, rho=0.9, momentum=0.0, epsilon=1e-7)),
        (
            "rmsprop momentum",
            "rmsprop_update",
            2,
            dict(lr=1e-3, rho=0.9, momentum=0.5, epsilon=1e-7),
        ),
        ("adagrad", "adagrad_update", 1, dict(lr=0.01, epsilon=1e-7)),
    ]


def _call_opt(
    be: Backend, method: str, p: Any, g: Any, states: list[Any], kw: dict, skip: Any
) -> None:
    fn = getattr(be, method)
    if method == "sgd_update":
        fn(p, g, states[0] if states else None, kw["lr"], kw["momentum"], kw["nesterov"], skip)
    elif method == "adam_update":
        fn(p, g, states[0], states[1], kw["alpha"], kw["beta_1"], kw["beta_2"], kw["epsilon"], skip)
    elif method == "rmsprop_update":
        fn(
            p,
            g,
            states[0],
            states[1] if len(states) > 1 else None,
            kw["lr"],
            kw["rho"],
            kw["momentum"],
            kw["epsilon"],
            skip,
        )
    else:
        fn(p, g, states[0], kw["lr"], kw["epsilon"], skip)


def check_optimizers(
    be: Backend,
    rng: np.random.Generator,
    dtype: Any,
    shapes: list[tuple[int, ...]] = OPT_SHAPES,
    skip_dtype: Any = np.int32,
    methods: tuple[str, ...] | None = None,
) -> None:
    np_ = be.to_numpy
    for shape in shapes:
        for label, method, nstate, kw in _opt_cases():
            if methods is not None and method not in methods:
                continue
            what = f"{label} {shape} {np.dtype(dtype)}"
            p = rng.normal(size=shape).astype(dtype)
            # state drawn fresh and non-zero (second moments / accumulators non-negative)
            states = [np.abs(rng.normal(size=shape)).astype(dtype) for _ in range(nstate)]
            r_p, r_s = p.copy(), [s.copy() for s in states]
            d_p, d_s = _dev(be, p), [_dev(be, s) for s in states]
            for step in range(2):  # two steps: state written by step 1 is read by step 2
                g = rng.normal(size=shape).astype(dtype)
                _call_opt(REF, method, r_p, g, r_s, kw, None)
                skip = None if step == 0 else _dev(be, np.zeros(1, skip_dtype))
                _call_opt(be, method, d_p, _dev(be, g), d_s, kw, skip)
                close(np_(d_p), r_p, dtype, f"{what} step {step} param")
                for k, (ds, rs) in enumerate(zip(d_s, r_s)):
                    close(np_(ds), rs, dtype, f"{what} step {step} state {k}")
            # skip set: nothing may change (bit for bit)
            before = [np_(a).copy() for a in [d_p] + d_s]
            g = _dev(be, rng.normal(size=shape).astype(dtype))
            _call_opt(be, method, d_p, g, d_s, kw, _dev(be, np.ones(1, skip_dtype)))
            for b4, a in zip(before, [d_p] + d_s):
                np.testing.assert_array_equal(np_(a), b4, err_msg=what + " wrote despite skip")


def check_update_refuses_nonfinite(
    be: Backend,
    rng: np.random.Generator,
    dtype: Any,
    shapes: list[tuple[int, ...]] = OPT_SHAPES,
    methods: tuple[str, ...] | None = None,
) -> None:
    """An update whose new weights or state would hold a NaN or inf (one gradient element
    inf, or at the float's largest value with the largest learning rate: the step
    overflows) writes nothing, bit for bit, and raises the flag to NONFINITE_UPDATE."""
    np_ = be.to_numpy
    big = float(np.finfo(dtype).max)
    for shape in shapes:
        for label, method, nstate, kw in _opt_cases():
            if methods is not None and method not in methods:
                continue
            for how in ("inf gradient", "overflowing step"):
                what = f"{label} {shape} {np.dtype(dtype)} {how}"
                p = rng.normal(size=shape).astype(dtype)
                g = rng.normal(size=shape).astype(dtype)
                kw2 = dict(kw)
                k = rng.integers(0, g.size)
                if how == "inf gradient":
                    g.reshape(-1)[k] = np.inf
                else:
                    kw2[("alpha" if "alpha" in kw else "lr")] = big
                    g.reshape(-1)[k] = big
                states = [np.abs(rng.normal(size=shape)).astype(dtype) for _ in range(nstate)]
                d_p, d_s = _dev(be, p), [_dev(be, s) for s in states]
                flag = _dev(be, np.zeros(1, np.int32))
                _call_opt(be, method, d_p, _dev(be, g), d_s, kw2, flag)
                assert int(np_(flag)[0]) == NONFINITE_UPDATE, what + ": flag not raised"
                np.testing.assert_array_equal(np_(d_p), p, err_msg=what + " wrote the weights")
                for ds, s0 in zip(d_s, states):
                    np.testing.assert_array_equal(np_(ds), s0, err_msg=what + " wrote the state")


def _check_update(method: str) -> Callable:
    def check(
        be: Backend,
        rng: np.random.Generator,
        dtype: Any,
        shapes: list[tuple[int, ...]] = OPT_SHAPES,
    ) -> None:
        check_optimizers(be, rng, dtype, shapes, methods=(method,))
        check_update_refuses_nonfinite(be, rng, dtype, shapes, methods=(method,))

    return functools.update_wrapper(check, check_optimizers)


# ---------------------------------------------------------------- convolution, pooling, batch norm
#: (h, w, kernel, strides, padding): "same" with an odd pixel, overlapping windows, strides
#: larger than the kernel, non-square everything.
GEOMS = [
    (5, 6, (3, 3), (1, 1), "same"),
    (7, 7, (2, 2), (2, 2), "same"),
    (6, 5, (3, 2), (2, 1), "valid"),
    (4, 5, (2, 2), (3, 2), "same"),
]
#: (batch, channels) per geometry: one pixel-run of one channel, odd channel counts.
CONV_SHAPES = [(1, 1), (2, 3), (3, 17)]


def _windows(shapes):
    from netcore.backend.conv_ops import make_window

    for n, c in shapes:
        for h, w, k, st, pad in GEOMS:
            yield (n, h, w, c), make_window(h, w, k, st, pad)


def check_im2col(be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES) -> None:
    for shape, win in _windows(shapes):
        x = rng.normal(size=shape).astype(dtype)
        want = REF.im2col(x, win)
        out = _poison(be, want.shape, dtype)
        got = be.im2col(_dev(be, x), win, out=out)
        close(be.to_numpy(got), want, dtype, f"im2col {shape} {win}")
        close(be.to_numpy(out), want, dtype, f"im2col {shape} {win} (out array)")


def check_col2im(be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES) -> None:
    for shape, win in _windows(shapes):
        cols = rng.normal(size=(shape[0] * win.ho * win.wo, win.kh * win.kw * shape[3]))
        cols = cols.astype(dtype)
        want = REF.col2im(cols, shape, win)
        out = _poison(be, shape, dtype)
        got = be.col2im(_dev(be, cols), shape, win, out=out)
        close(be.to_numpy(got), want, dtype, f"col2im {shape} {win}")
        close(be.to_numpy(out), want, dtype, f"col2im {shape} {win} (out array)")


def _pool_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, k: int) -> np.ndarray:
    """Every other case small integers: ties inside windows (after ReLU they are common)."""
    if k % 2:
        return rng.integers(-1, 2, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def check_max_pool(be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES) -> None:
    for k, (shape, win) in enumerate(_windows(shapes)):
        x = _pool_input(rng, shape, dtype, k)
        want_y, want_i = REF.max_pool(x, win)
        y = _poison(be, want_y.shape, dtype)
        idx = be.asarray(np.full(want_y.shape, -1, np.int32))
        got_y, got_i = be.max_pool(_dev(be, x), win, out=y, idx_out=idx)
        close(be.to_numpy(got_y), want_y, dtype, f"max_pool {shape} {win}")
        np.testing.assert_array_equal(be.to_numpy(idx), want_i, err_msg=f"max_pool idx {win}")


def check_max_pool_grad(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES
) -> None:
    for k, (shape, win) in enumerate(_windows(shapes)):
        _, idx = REF.max_pool(_pool_input(rng, shape, dtype, k), win)
        dy = rng.normal(size=idx.shape).astype(dtype)
        want = REF.max_pool_grad(dy, idx, shape, win)
        out = _poison(be, shape, dtype)
        got = be.max_pool_grad(_dev(be, dy), be.asarray(idx.copy()), shape, win, out=out)
        close(be.to_numpy(got), want, dtype, f"max_pool_grad {shape} {win}")
        close(be.to_numpy(out), want, dtype, f"max_pool_grad {shape} {win} (out array)")


def check_avg_pool(be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES) -> None:
    for shape, win in _windows(shapes):
        x = rng.normal(size=shape).astype(dtype)
        want = REF.avg_pool(x, win)
        out = _poison(be, want.shape, dtype)
        got = be.avg_pool(_dev(be, x), win, out=out)
        close(be.to_numpy(got), want, dtype, f"avg_pool {shape} {win}")
        close(be.to_numpy(out), want, dtype, f"avg_pool {shape} {win} (out array)")


def check_avg_pool_grad(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES
) -> None:
    for shape, win in _windows(shapes):
        dy = rng.normal(size=(shape[0], win.ho, win.wo, shape[3])).astype(dtype)
        want = REF.avg_pool_grad(dy, shape, win)
        out = _poison(be, shape, dtype)
        got = be.avg_pool_grad(_dev(be, dy), shape, win, out=out)
        close(be.to_numpy(got), want, dtype, f"avg_pool_grad {shape} {win}")
        close(be.to_numpy(out), want, dtype, f"avg_pool_grad {shape} {win} (out array)")


def _bn_inputs(rng: np.random.Generator, shape: tuple[int, int], dtype: Any) -> list[np.ndarray]:
    m, c = shape
    x = rng.normal(1.5, 2.0, size=shape)
    gamma, beta, mm = rng.normal(size=(3, c))
    mv = rng.random(c) + 0.5
    return [a.astype(dtype) for a in (x, gamma, beta, mm, mv)]


def check_batch_norm(be: Backend, rng: np.random.Generator, dtype: Any, shapes=SHAPES) -> None:
    for shape in shapes:
        for training in (True, False):
            x, gamma, beta, mm, mv = _bn_inputs(rng, shape, dtype)
            w_mm, w_mv = mm.copy(), mv.copy()
            w_mean, w_inv = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
            want = REF.batch_norm(
                x, gamma, beta, w_mm, w_mv, 0.9, 1e-3, training, None, w_mean, w_inv
            )
            d_mm, d_mv = _dev(be, mm), _dev(be, mv)
            mean, inv = _poison(be, (shape[1],), dtype), _poison(be, (shape[1],), dtype)
            out = _poison(be, shape, dtype)
            got = be.batch_norm(
                _dev(be, x),
                _dev(be, gamma),
                _dev(be, beta),
                d_mm,
                d_mv,
                0.9,
                1e-3,
                training,
                out=out,
                mean_out=mean,
                inv_std_out=inv,
            )
            what = f"batch_norm training={training} {shape} {np.dtype(dtype)}"
            close(be.to_numpy(got), want, dtype, what)
            close(be.to_numpy(out), want, dtype, what + " (out array)")
            close(be.to_numpy(mean), w_mean, dtype, what + " mean")
            close(be.to_numpy(inv), w_inv, dtype, what + " inv_std")
            close(be.to_numpy(d_mm), w_mm, dtype, what + " moving mean")
            close(be.to_numpy(d_mv), w_mv, dtype, what + " moving variance")


def check_batch_norm_grad(be: Backend, rng: np.random.Generator, dtype: Any, shapes=SHAPES) -> None:
    for shape in shapes:
        x, gamma, beta, mm, mv = _bn_inputs(rng, shape, dtype)
        mean, inv = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
        REF.batch_norm(x, gamma, beta, mm, mv, 0.9, 1e-3, True, None, mean, inv)
        dy = rng.normal(size=shape).astype(dtype)
        want = REF.batch_norm_grad(dy, x, mean, inv, gamma)
        outs = [_poison(be, shape, dtype), _poison(be, (shape[1],), dtype)]
        outs.append(_poison(be, (shape[1],), dtype))
        got = be.batch_norm_grad(
            _dev(be, dy), _dev(be, x), _dev(be, mean), _dev(be, inv), _dev(be, gamma), *outs
        )
        for name, g, o, w in zip(("dx", "dgamma", "dbeta"), got, outs, want):
            what = f"batch_norm_grad {name} {shape} {np.dtype(dtype)}"
            close(be.to_numpy(g), w, dtype, what)
            close(be.to_numpy(o), w, dtype, what + " (out array)")


#: (height, width) of the warped images: one pixel, odd and non-square sizes.
WARP_SIZES = [(1, 1), (5, 7), (9, 4)]


def check_affine_warp(
    be: Backend, rng: np.random.Generator, dtype: Any, shapes=CONV_SHAPES
) -> None:
    """Random affine maps reaching well outside the image (every fill mode's far branches),
    both interpolations, ``shapes`` as (batch, channels); continuous random coordinates, so
    nearest rounding never meets an exact half."""
    for (n, c), (h, w) in itertools.product(shapes, WARP_SIZES):
        shape = (n, h, w, c)
        x = rng.normal(size=shape).astype(dtype)
        t = np.empty((n, 6))
        t[:, [0, 1, 3, 4]] = rng.normal(0.0, 1.5, size=(n, 4))
        t[:, 2] = rng.uniform(-2 * w, 2 * w, size=n)
        t[:, 5] = rng.uniform(-2 * h, 2 * h, size=n)
        for mode in ("reflect", "wrap", "nearest", "constant"):
            for interp in ("nearest", "bilinear"):
                want = REF.affine_warp(x, t, mode, interp, 0.25)
                out = _poison(be, shape, dtype)
                got = be.affine_warp(_dev(be, x), _dev(be, t), mode, interp, 0.25, out=out)
                what = f"affine_warp {shape} {mode} {interp}"
                close(be.to_numpy(got), want, dtype, what)
                close(be.to_numpy(out), want, dtype, what + " (out array)")


_CASES: dict[str, Callable] = {
    "bias_act_fwd": check_bias_act,
    "bias_act_bwd": check_bias_act_grad,
    "softmax_xent": check_softmax_xent,
    "sigmoid_bce": check_sigmoid_bce,
    **{
        m: _check_update(m)
        for m in ("sgd_update", "adam_update", "rmsprop_update", "adagrad_update")
    },
    "im2col": check_im2col,
    "col2im": check_col2im,
    "max_pool_fwd": check_max_pool,
    "max_pool_bwd": check_max_pool_grad,
    "avg_pool_fwd": check_avg_pool,
    "avg_pool_bwd": check_avg_pool_grad,
    "bn_stats": check_batch_norm,
    "bn_apply": check_batch_norm,
    "bn_grad_stats": check_batch_norm_grad,
    "bn_grad_apply": check_batch_norm_grad,
    "affine_warp": check_affine_warp,
}
#: kernel name -> its check, for every kernel the registry declares.
ALL_CHECKS: dict[str, Callable] = {name: _CASES[name] for name in SPECS}


def check_with_fresh_seed(kernel: str, be: Backend, dtype: Any, **kwargs: Any) -> None:
    """Run ``kernel``'s check on inputs drawn from a new seed each run; the seed is named
    in any failure, so a rare miss can be replayed with ``np.random.default_rng(seed)``."""
    seed = int(np.random.SeedSequence().generate_state(1)[0])
    try:
        ALL_CHECKS[kernel](be, np.random.default_rng(seed), dtype, **kwargs)
    except AssertionError as exc:
        raise AssertionError(f"{kernel} {np.dtype(dtype).name}, input seed {seed}: {exc}") from None
