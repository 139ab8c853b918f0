"""The row schema (version 3), shared by both configs, and the shard key-value metadata.

Version 2 added ``origin`` and ``license`` (where an extracted kernel came from, and under which
licence); ``seed`` is null and ``family`` is ``real`` for extracted rows. Version 3 added what an
executed row did: its launch ``contract`` (JSON), the ``inputs`` of one cpu launch, the
``outputs`` it wrote, and for kernels with a backward pass the ``output_grads`` seeded and the
``input_grads`` one adjoint launch gave; ``validation`` is ``executed`` for those rows."""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "3"
CONFIGS = ("cpu", "cuda")

# Named arrays of an executed row: values flattened in C order, floats or ints by dtype.
VALUES = pa.list_(
    pa.struct([
        pa.field("name", pa.string()),
        pa.field("dtype", pa.string()),
        pa.field("shape", pa.list_(pa.int32())),
        pa.field("floats", pa.list_(pa.float64())),
        pa.field("ints", pa.list_(pa.int64())),
    ])
)

ROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("kernel_name", pa.string(), nullable=False),
        pa.field("family", pa.string(), nullable=False),
        pa.field("seed", pa.int64()),
        pa.field("python_source", pa.string(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("forward_code", pa.string(), nullable=False),
        pa.field("backward_code", pa.string()),
        pa.field("helper_code", pa.string(), nullable=False),
        pa.field("ptx", pa.string()),
        pa.field("arg_names", pa.list_(pa.string()), nullable=False),
        pa.field("arg_types", pa.list_(pa.string()), nullable=False),
        pa.field("builtins", pa.list_(pa.string()), nullable=False),
        pa.field("validation", pa.string(), nullable=False),
        pa.field("warp_version", pa.string(), nullable=False),
        pa.field("generator_version", pa.string(), nullable=False),
        pa.field("origin", pa.string()),
        pa.field("license", pa.string()),
        pa.field("contract", pa.string()),
        pa.field("inputs", VALUES),
        pa.field("outputs", VALUES),
        pa.field("output_grads", VALUES),
        pa.field("input_grads", VALUES),
    ]
)
COLUMNS = tuple(ROW_SCHEMA.names)

# Keys every shard carries in its Parquet key-value metadata.
META_KEYS = ("schema_version", "warp_version", "generator_version", "config", "seed", "shard_index", "rows_per_shard", "rows", "build_command", "validate", "arch", "ptx", "split", "slots", "final_for_target", "source", "source_digest", "execute", "identity", "max_code_chars")


def rows_to_table(rows: list[dict]) -> pa.Table:
    # Column by column: cheaper than ``Table.from_pylist``, which converts row by row.
    return pa.Table.from_arrays(
        [pa.array([row[f.name] for row in rows], type=f.type) for f in ROW_SCHEMA], schema=ROW_SCHEMA
    )


def features():
    """The ``datasets.Features`` of a row (what the card's ``dataset_info`` declares)."""
    from datasets import Features

    return Features.from_arrow_schema(ROW_SCHEMA)
