"""Session-wide test settings: doctest collection (`--doctest-modules` over the packages) skips modules whose
optional extra is absent; numba's compiled-code cache goes to the run's temp dir, not into the checkout; the
order in which the parallel run (`-n auto`, pytest-xdist) hands out the tests."""
import importlib.util
import os

import pytest

collect_ignore = [] if importlib.util.find_spec("pogema_toolbox") else ["eval/toolbox.py"]


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path plugin has set up the base temp dir
def pytest_configure(config):
    """planners/ compile with numba.njit(cache=True), which writes next to the source by default. The cache
    goes to this run's base temp dir instead; xdist workers and the commands tests start inherit the setting,
    so they share one cache (one compile per signature per run)."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = str(config._tmp_path_factory.getbasetemp() / "numba-cache")


def pytest_collection_modifyitems(items):
    """Slow tests first: with `--maxschedchunk 2` (pyproject.toml) the xdist workers take the next tests as
    they finish, so they start the long runs early and finish together on the short ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
