"""Shared fixtures: the repository root on sys.path and a private mesh cache per session."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the mesh cache of the test run away from the user's."""
    old = os.environ.get("EPSIM_CACHE_DIR")
    os.environ["EPSIM_CACHE_DIR"] = str(tmp_path_factory.mktemp("mesh-cache"))
    yield
    if old is None:
        os.environ.pop("EPSIM_CACHE_DIR", None)
    else:
        os.environ["EPSIM_CACHE_DIR"] = old
