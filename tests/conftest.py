import os

import pytest

# tests/sim runs under numba's CUDA simulator, which must be on before numba.cuda is imported:
# tests/test_simulator_suite.py starts it in interpreters of its own.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") else ["sim"]


def pytest_collection_modifyitems(config, items):
    """GPU tests show as skipped with a reason on machines without a usable CUDA device."""
    from netcore.backend.cuda import probe, simulator_enabled

    ok, reason = probe()
    if ok and not simulator_enabled():
        return
    why = "needs a real CUDA GPU: " + (
        "the CUDA simulator is on" if simulator_enabled() else reason
    )
    for item in items:
        if item.get_closest_marker("gpu") is not None:  # not keywords: a folder named gpu
            item.add_marker(pytest.mark.skip(reason=why))
