"""How the suite spreads over its workers (``--dist loadgroup``).

Tests that share a class- or module-scoped fixture (an HLS project, a trained model) stay on one worker, in
one xdist group; every other test is scheduled on its own. The longest tests start first, so the workers
finish together instead of one waiting on the last long test.
"""

import sys
from pathlib import Path

import pytest

# The suite's own helpers (the C-simulation test base, model builders, tool stand-ins), importable by name.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

SHARED_SCOPES = ("class", "module", "package", "session")


def _shares_a_fixture(item):
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    # The suite's own fixtures (pytest's and plugins' have no baseid, e.g. the session's tmp_path_factory).
    return any(d[-1].baseid and d[-1].scope in SHARED_SCOPES for d in info.name2fixturedefs.values() if d)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (it appends them to the node ids)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") or not _shares_a_fixture(item):
            continue
        owner = item.getparent(pytest.Class) or item.getparent(pytest.Module)
        item.add_marker(pytest.mark.xdist_group(owner.nodeid))
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # stable: otherwise as collected


def pytest_collection_finish(session):
    """On an xdist worker, fail loudly if the groups were not applied: xdist marks them in the node ids (pytest 9
    ignores that, and every class fixture is then built again on each worker that runs one of its tests)."""
    if not hasattr(session.config, "workerinput") or not session.config.getvalue("loadgroup"):
        return
    grouped = [item for item in session.items if item.get_closest_marker("xdist_group")]
    if grouped and not all("@" in item.nodeid for item in grouped):
        raise pytest.UsageError("pytest-xdist did not apply the xdist_group marks (a pytest it does not support?)")
