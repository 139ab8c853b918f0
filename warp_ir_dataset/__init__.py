"""warp-ir-dataset: synthetic NVIDIA Warp kernels paired with Warp's generated code.

The pipeline, one module per stage:

    generate  seeds → kernel sources            (generate.py, families/)
    codegen   source → Warp codegen per device  (codegen.py; Warp internals only in _warp.py)
    validate  compile with clang / NVRTC        (validate.py)
    write     rows → atomic Parquet shards      (write.py; one shard end to end: pipeline.py)
    card      README.md YAML + statistics       (card.py)
    push      shards + card → Hugging Face Hub  (push.py)

``python -m warp_ir_dataset.build`` runs it.
"""

__version__ = "0.1.0"
