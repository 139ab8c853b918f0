import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from warp_ir_dataset.schema import COLUMNS, ROW_SCHEMA, rows_to_table
from warp_ir_dataset.write import encode_shard, read_shard_metadata

text = st.text(max_size=200)
row = st.fixed_dictionaries(
    {
        "id": st.text("0123456789abcdef", min_size=16, max_size=16),
        "kernel_name": st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True),
        "family": st.sampled_from(["arithmetic", "loops", "real"]),
        "seed": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
        "python_source": text,
        "device": st.sampled_from(["cpu", "cuda"]),
        "forward_code": text,
        "backward_code": st.one_of(st.none(), text),
        "helper_code": text,
        "ptx": st.one_of(st.none(), text),
        "arg_names": st.lists(st.text(max_size=10), max_size=5),
        "arg_types": st.lists(st.text(max_size=30), max_size=5),
        "builtins": st.lists(st.text(max_size=10), max_size=5),
        "validation": st.sampled_from(["unchecked", "compiled"]),
        "warp_version": st.just("1.19.0"),
        "generator_version": st.just("1"),
    }
)
META = {k: "x" for k in ("warp_version", "generator_version", "config", "seed", "shard_index", "rows_per_shard", "rows", "build_command", "validate", "arch", "ptx", "split", "slots", "final_for_target")}


@settings(max_examples=60, deadline=None)
@given(st.lists(row, min_size=1, max_size=20))
def test_rows_round_trip_through_a_shard(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("s") / "train-00000.parquet"
    data = encode_shard(rows_to_table(rows), {**META, "schema_version": "1"})
    path.write_bytes(data)
    import pyarrow.parquet as pq

    back = pq.read_table(path)
    assert back.schema.remove_metadata() == ROW_SCHEMA.remove_metadata()
    assert back.to_pylist() == rows
    assert read_shard_metadata(path)["schema_version"] == "1"
    assert encode_shard(rows_to_table(rows), {**META, "schema_version": "1"}) == data  # deterministic bytes


def test_schema_has_the_version_1_columns():
    assert COLUMNS == (
        "id", "kernel_name", "family", "seed", "python_source", "device", "forward_code", "backward_code",
        "helper_code", "ptx", "arg_names", "arg_types", "builtins", "validation", "warp_version", "generator_version",
    )
    assert ROW_SCHEMA.field("seed").type == pa.int64() and ROW_SCHEMA.field("builtins").type == pa.list_(pa.string())
