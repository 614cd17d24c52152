"""Backends override reference ops with EXACTLY the reference signatures."""

from __future__ import annotations

import inspect

import pytest

from netcore.backend.base import Backend
from netcore.backend.cpu import CPUBackend
from netcore.backend.cuda import CudaBackend

BACKENDS = [CPUBackend, CudaBackend]


def _overrides(cls: type) -> list[str]:
    """Public Backend methods that ``cls`` or a base class below Backend redefines."""
    below = cls.__mro__[: cls.__mro__.index(Backend)]
    return sorted(
        {
            name
            for klass in below
            for name, fn in vars(klass).items()
            if callable(fn) and not name.startswith("_") and hasattr(Backend, name)
        }
    )


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_overrides_keep_the_reference_signature(cls):
    for name in _overrides(cls):
        if name == "__init__":
            continue
        got = inspect.signature(getattr(cls, name))
        want = inspect.signature(getattr(Backend, name))
        assert list(got.parameters) == list(want.parameters), (
            f"{cls.__name__}.{name}: {got} != {want}"
        )
        for p, q in zip(got.parameters.values(), want.parameters.values()):
            assert (p.kind, p.default) == (q.kind, q.default), f"{cls.__name__}.{name}.{p.name}"


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_fused_ops_lists_exactly_the_overridden_ops(cls):
    ops = set(cls.fused_ops)
    assert ops, f"{cls.__name__} fuses nothing"
    for op in ops:
        assert op in _overrides(cls), (
            f"{cls.__name__}.fused_ops lists {op} but does not override it"
        )
        assert hasattr(Backend, op)
    compute = {n for n in _overrides(cls)} - {
        "describe",
        "to_numpy",
        "synchronize",
        "asarray",
        "seed",
        "uniform",
        "fits_on_device",
    }
    assert compute == ops, (
        f"{cls.__name__}: overridden {sorted(compute)} vs fused_ops {sorted(ops)}"
    )
