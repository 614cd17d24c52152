"""One-file model format: a zip holding ``netcore.json`` (architecture, compile settings,
optimizer step count, seed) and ``.npy`` entries for the weights and optimizer state.

Writes are atomic: a temporary file in the same folder, flushed and fsynced, then
``os.replace``; an interrupted save leaves the previous file untouched.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ModelFileError

FORMAT = "netcore-model"
FORMAT_VERSION = 1


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save ``model`` to ``path`` (any extension; ``.netcore`` by convention)."""
    model._require_built("save")
    path = Path(path)
    be = model.backend
    meta: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                            "netcore_version": __version__, "model": model.get_config(),
                            "input_shape": list(model.input_shape), "compile": None}
    arrays: dict[str, np.ndarray] = {f"weights/{i}.npy": w for i, w in enumerate(model.get_weights())}
    if model.compiled:
        opt = model.optimizer
        meta["compile"] = {"loss": model.loss.name, "metrics": [_metric_name(m) for m in model.metrics],
                           "optimizer": opt.get_config(), "iterations": opt.iterations}
        for i, slots in enumerate(opt.state):
            for slot, arr in slots.items():
                arrays[f"optimizer/{i}/{slot}.npy"] = be.to_numpy(arr)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("netcore.json", json.dumps(meta, indent=1))
                for name, arr in arrays.items():
                    zf.writestr(name, _npy_bytes(arr))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _metric_name(m: Any) -> str:
    return "accuracy" if m.name == "accuracy" else m.name


def load_model(path: str | os.PathLike, backend: Any = None) -> Any:
    """Load a model saved by ``Model.save`` onto ``backend`` (None: the process default).

    A missing, truncated, corrupt or foreign file raises :class:`ModelFileError`.
    """
    from . import optimizers
    from .layers import LAYER_CLASSES
    from .models import Sequential

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "netcore.json" not in names:
                raise ModelFileError(f"{str(path)!r} is not a netcore model file (no netcore.json inside)")
            meta = json.loads(zf.read("netcore.json"))
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{str(path)!r} is not a netcore model file (format {meta.get('format')!r})")
            if meta.get("format_version", 0) > FORMAT_VERSION:
                raise ModelFileError(f"{str(path)!r} has format version {meta['format_version']}; this "
                                     f"netcore reads up to {FORMAT_VERSION}: upgrade netcore")
            arrays = {n: np.lib.format.read_array(io.BytesIO(zf.read(n)), allow_pickle=False)
                      for n in names if n.endswith(".npy")}
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{str(path)!r} is not a netcore model file, or it is truncated or "
                             f"corrupt ({exc})") from None
    except (ValueError, KeyError, OSError, EOFError, zipfile.LargeZipFile) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{str(path)!r} is truncated or corrupt ({type(exc).__name__}: {exc})") from None

    try:
        cfg = meta["model"]
        layers = []
        for spec in cfg["layers"]:
            lc = dict(spec["config"])
            lc.pop("input_shape", None)
            layers.append(LAYER_CLASSES[spec["class"]](**lc))
        model = Sequential(layers, backend=backend, seed=cfg["seed"], dtype=cfg["dtype"], name=cfg["name"])
        model.build(tuple(meta["input_shape"]))
        n_weights = len([n for n in arrays if n.startswith("weights/")])
        model.set_weights([arrays[f"weights/{i}.npy"] for i in range(n_weights)])
        comp = meta.get("compile")
        if comp:
            model.compile(optimizer=optimizers.from_config(comp["optimizer"]), loss=comp["loss"],
                          metrics=comp["metrics"])
            opt = model.optimizer
            opt.iterations = int(comp["iterations"])
            for i, slots in enumerate(opt.state):
                for slot in slots:
                    slots[slot][...] = model.backend.asarray(arrays[f"optimizer/{i}/{slot}.npy"])
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{str(path)!r} holds an inconsistent netcore model ({type(exc).__name__}: {exc})") from None
    return model
