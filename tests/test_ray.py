import pyarrow.parquet as pq

from helpers import build, snapshot


def test_ray_engine_gives_the_local_engines_rows(tmp_path):
    # With validation: Ray workers compile their sample as local workers do; both configs in
    # one pass on Ray against one config at a time locally.
    args = ("--rows-per-shard", "15", "--seed", "3", "--workers", "2", "--validate", "sample")
    build(tmp_path / "local", "cpu", 0.25, *args)
    build(tmp_path / "local", "cuda", 0.25, *args)
    build(tmp_path / "ray", "all", 0.25, *args, "--engine", "ray")  # raises on a non-zero exit
    for config in ("cpu", "cuda"):
        local, ray = snapshot(tmp_path / "local" / config), snapshot(tmp_path / "ray" / config)
        assert len(local) >= 3 and local == ray, config
    verified = [v for p in sorted((tmp_path / "ray" / "cpu").glob("*.parquet")) for v in pq.read_table(p, columns=["validation"]).column("validation").to_pylist()]
    assert "executed" in verified
    assert pq.read_table(tmp_path / "ray" / "cpu" / "train-00000.parquet").num_rows > 0


def test_unknown_engine_is_one_line(tmp_path):
    proc = build(tmp_path / "x", "cpu", 0.1, "--engine", "dask", check=False)
    assert proc.returncode != 0 and "unknown --engine" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
