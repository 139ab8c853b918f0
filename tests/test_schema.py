import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from warp_ir_dataset.schema import COLUMNS, META_KEYS, ROW_SCHEMA, SCHEMA_VERSION, rows_to_table
from warp_ir_dataset.write import ShardError, encode_shard, read_shard_metadata

from helpers import examples

text = st.text(max_size=200)
value = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[a-z_]{1,8}(\.[a-z_]{1,8})?", fullmatch=True),
        "dtype": st.sampled_from(["float32", "float64", "int32", "uint64", "bool"]),
        "shape": st.lists(st.integers(0, 16), max_size=3),
        "floats": st.one_of(st.none(), st.lists(st.floats(allow_nan=False, width=64), max_size=8)),
        "ints": st.one_of(st.none(), st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8)),
    }
)
values = st.one_of(st.none(), st.lists(value, max_size=3))
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
        "validation": st.sampled_from(["unchecked", "compiled", "executed"]),
        "warp_version": st.just("1.19.0"),
        "generator_version": st.sampled_from(["", "3"]),
        "origin": st.one_of(st.none(), st.text(max_size=80)),
        "license": st.one_of(st.none(), st.sampled_from(["Apache-2.0", "MIT", "BSD-3-Clause"])),
        "contract": st.one_of(st.none(), text),
        "inputs": values,
        "outputs": values,
        "output_grads": values,
        "input_grads": values,
    }
)
META = {k: "x" for k in META_KEYS if k != "schema_version"}


@settings(max_examples=examples(60))
@given(st.lists(row, min_size=1, max_size=20))
def test_rows_round_trip_through_a_shard(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("s") / "train-00000.parquet"
    data = encode_shard(rows_to_table(rows), {**META, "schema_version": SCHEMA_VERSION})
    path.write_bytes(data)
    import pyarrow.parquet as pq

    back = pq.read_table(path)
    assert back.schema.remove_metadata() == ROW_SCHEMA.remove_metadata()
    assert back.to_pylist() == rows
    assert read_shard_metadata(path)["schema_version"] == "3"
    assert encode_shard(rows_to_table(rows), {**META, "schema_version": SCHEMA_VERSION}) == data  # deterministic bytes


def test_schema_has_the_version_3_columns():
    assert COLUMNS == (
        "id", "kernel_name", "family", "seed", "python_source", "device", "forward_code", "backward_code",
        "helper_code", "ptx", "arg_names", "arg_types", "builtins", "validation", "warp_version", "generator_version",
        "origin", "license", "contract", "inputs", "outputs", "output_grads", "input_grads",
    )
    assert all(ROW_SCHEMA.field(c).nullable for c in ("contract", "inputs", "outputs", "output_grads", "input_grads"))
    assert ROW_SCHEMA.field("origin").nullable and ROW_SCHEMA.field("license").nullable and ROW_SCHEMA.field("seed").nullable
    assert ROW_SCHEMA.field("seed").type == pa.int64() and ROW_SCHEMA.field("builtins").type == pa.list_(pa.string())


def test_a_version_1_shard_is_refused_with_one_clear_line(tmp_path):
    v1 = pa.schema([f for f in ROW_SCHEMA if f.name not in ("origin", "license")])
    old_meta = {k: "x" for k in META_KEYS if k not in ("schema_version", "source", "source_digest")}
    table = pa.Table.from_pylist([], schema=v1).replace_schema_metadata({**old_meta, "schema_version": "1"})
    import pyarrow.parquet as pq

    path = tmp_path / "train-00000.parquet"
    pq.write_table(table, path)
    with pytest.raises(ShardError, match="schema version 1, this tool writes 3"):
        read_shard_metadata(path)
