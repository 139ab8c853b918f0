from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from helpers import build

# One verdict per commit: property tests draw the same examples on every run (derandomized: the
# draw is a hash of the test, no example database carries failures from run to run). A
# counterexample found by exploring (``./dev test --explore``: fresh draws, ten times the
# examples, see helpers.examples) is kept in its test with ``@example``.
# No deadline in either: a shared 2-core machine makes timings noise.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")  # --hypothesis-profile explore (what ./dev test --explore passes) overrides it

# A small multi-shard build, shared by the tests that only read it.
SMALL = {"target_mb": 0.3, "rows_per_shard": 25, "seed": 7}


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "data"
    for config in ("cpu", "cuda"):
        build(out, config, SMALL["target_mb"], "--rows-per-shard", str(SMALL["rows_per_shard"]), "--seed", str(SMALL["seed"]), "--workers", "2", "--validate", "sample")
    return out
