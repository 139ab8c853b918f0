from __future__ import annotations

import pytest

from helpers import build

# A small multi-shard build, shared by the tests that only read it.
SMALL = {"target_mb": 0.3, "rows_per_shard": 25, "seed": 7}


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "data"
    for config in ("cpu", "cuda"):
        build(out, config, SMALL["target_mb"], "--rows-per-shard", str(SMALL["rows_per_shard"]), "--seed", str(SMALL["seed"]), "--workers", "2", "--validate", "sample")
    return out
