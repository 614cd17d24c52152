"""Backend selection: per model, per process, per block; never a silent CPU fallback."""

import logging

import pytest

import netcore as nc
from netcore.backend import cuda as cuda_mod
from netcore.layers import Dense
from netcore.models import Sequential


@pytest.fixture(autouse=True)
def _reset():
    yield
    nc.set_backend(None)


def no_gpu(monkeypatch, reason="CuPy is not installed (No module named 'cupy')"):
    monkeypatch.setattr(cuda_mod, "probe", lambda: (False, reason))


def test_cpu_backend_object():
    be = nc.get_backend("cpu")
    assert be.name == "cpu" and be.xp.__name__ == "numpy"
    a = be.asarray([1.0, 2.0])
    assert be.to_numpy(a).tolist() == [1.0, 2.0]
    be.synchronize()
    assert "cpu" in nc.available_backends()


def test_cuda_unavailable_raises_with_the_reason(monkeypatch):
    no_gpu(monkeypatch)
    with pytest.raises(nc.BackendUnavailableError, match="CuPy is not installed"):
        Sequential(backend="cuda")
    assert nc.available_backends() == ["cpu"]
    assert nc.backend_status()["cuda"] == (False, "CuPy is not installed (No module named 'cupy')")


def test_auto_picks_cpu_and_says_why(monkeypatch, caplog):
    no_gpu(monkeypatch)
    with caplog.at_level(logging.INFO, logger="netcore"):
        m = Sequential([Dense(2, input_shape=(3,))], backend="auto")
    assert m.backend.name == "cpu"
    assert "auto' chose cpu" in caplog.text and "CuPy is not installed" in caplog.text


def test_process_default_env_and_context(monkeypatch):
    no_gpu(monkeypatch)
    monkeypatch.setenv("NETCORE_BACKEND", "cuda")
    with pytest.raises(nc.BackendUnavailableError):
        Sequential()
    nc.set_backend("cpu")  # set_backend wins over the environment
    assert Sequential().backend.name == "cpu"
    nc.set_backend(None)
    monkeypatch.setenv("NETCORE_BACKEND", "cpu")
    with nc.use_backend("cpu") as be:
        assert be.name == "cpu" and Sequential().backend.name == "cpu"


def test_use_backend_restores_previous(monkeypatch):
    no_gpu(monkeypatch)
    nc.set_backend("cpu")
    with pytest.raises(nc.BackendUnavailableError):
        with nc.use_backend("cuda"):
            pass
    assert Sequential().backend.name == "cpu"
