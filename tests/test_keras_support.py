"""The table of Keras names netcore has: the data, the pages that show it, and the error a
missing name raises."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from netcore import keras_support
from netcore.keras_support import KERAS_NAMES, NotInNetcoreError

ROOT = Path(__file__).resolve().parents[1]
#: The packages whose __getattr__ names what is missing (schedules: a module of its own).
PACKAGES = ["layers", "losses", "metrics", "optimizers", "callbacks"]
#: Names listed as present that other branches are adding now; once one lands, this test says
#: so, and it leaves this list.
PENDING: set[str] = set()


def _module(kind: str):
    try:
        return importlib.import_module(f"netcore.{kind}")
    except ImportError:
        return None


@pytest.mark.parametrize("page", ["README.md", "docs/api.md"])
def test_the_pages_carry_the_table_made_from_the_data(page):
    assert keras_support.markdown_table() in (ROOT / page).read_text()


def test_no_name_is_both_present_and_missing():
    for kind, names in KERAS_NAMES.items():
        assert not set(names["has"]) & set(names["not"]), kind
        assert len(set(names["has"])) == len(names["has"]), kind


@pytest.mark.parametrize("kind", list(KERAS_NAMES))
def test_every_name_listed_as_present_is_there(kind):
    module = _module(kind)
    for name in KERAS_NAMES[kind]["has"]:
        key = name if name in PENDING else f"{name}@{kind}"
        present = module is not None and name in vars(module)
        if key in PENDING:
            assert not present, f"{name} has landed in netcore.{kind}: remove it from PENDING"
        else:
            assert present, f"the table says netcore.{kind} has {name}, it does not"


@pytest.mark.parametrize("kind", PACKAGES)
def test_every_keras_class_netcore_exports_is_in_the_table(kind):
    module = importlib.import_module(f"netcore.{kind}")
    exported = {
        name
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and obj.__module__.startswith("netcore")
        and not name.startswith("_")
        and not issubclass(obj, Exception)
    }
    # netcore's own base classes and extras, not Keras names
    own = {"Layer", "Loss", "Metric", "Optimizer", "RootMeanSquaredError", "Backend"}
    listed = set(KERAS_NAMES[kind]["has"])
    assert exported - own <= listed, f"netcore.{kind} exports {exported - own - listed} unlisted"


@pytest.mark.parametrize("kind", PACKAGES)
def test_asking_for_a_missing_keras_name_names_it_and_points_to_the_table(kind):
    module = importlib.import_module(f"netcore.{kind}")
    name = KERAS_NAMES[kind]["not"][0]
    with pytest.raises(NotInNetcoreError) as info:
        getattr(module, name)
    message = str(info.value)
    assert message.startswith(f"netcore.{kind}.{name}: Keras' {name} is not in netcore")
    assert "README.md and docs/api.md" in message
    assert KERAS_NAMES[kind]["has"][0] in message  # what there is instead


def test_from_import_of_a_missing_layer_keeps_the_message():
    with pytest.raises(ImportError, match=r"netcore.layers.LSTM: Keras' LSTM is not in netcore"):
        from netcore.layers import LSTM  # type: ignore[attr-defined]  # noqa: F401


def test_a_name_keras_lacks_too_is_an_ordinary_attribute_error():
    import netcore.layers

    with pytest.raises(AttributeError, match="has no attribute 'Dense2'"):
        netcore.layers.Dense2  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(netcore.layers, "Dense2")
    assert hasattr(netcore.layers, "Dense")
