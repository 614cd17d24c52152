import pytest


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
