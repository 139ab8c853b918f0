"""The dataset card's YAML header (README.md in a dataset folder): ``configs`` and
``dataset_info`` for every config present, rewritten from the shards on disk, keeping the prose
below it. ``datasets`` casts the YAML features onto the Parquet data and checks
``num_examples``, so every build and extraction runs it; the ``card`` command writes the prose."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from .schema import CONFIGS
from .write import atomic_write, shard_files

DEFAULT_CARD = """---
{}
---
# Warp kernels → generated C++/CUDA code

Synthetic NVIDIA Warp kernels (`@wp.kernel` Python source) paired with the code Warp's own
compiler generates for them. Load a config with `datasets.load_dataset(FOLDER, "cpu")`.
"""


def import_card_libraries() -> None:
    """Import what :func:`update_card_metadata` needs (``datasets`` alone takes ~0.7 s), so a
    build whose shards are made by workers can do it while they run instead of after."""
    import datasets  # noqa: F401
    import huggingface_hub  # noqa: F401


def update_card_metadata(folder: Path, body: str | None = None, fields: dict | None = None) -> Path:
    """Rewrite README.md's ``configs`` and ``dataset_info`` from the shards; keep the other YAML
    fields (updated with ``fields``) and the prose (replaced by ``body`` when given)."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    from .schema import features

    card_path = folder / "README.md"
    card = DatasetCard(card_path.read_text(encoding="utf-8") if card_path.exists() else DEFAULT_CARD, ignore_metadata_errors=True)
    data = card.data.to_dict()
    data.pop("configs", None)
    data.pop("dataset_info", None)
    data.update(fields or {})
    card_data = DatasetCardData(**data)
    configs, infos = MetadataConfigs(), DatasetInfosDict()
    for config in CONFIGS:
        splits = shard_files(folder, config)
        if not splits:
            continue
        configs[config] = {"data_files": [{"split": s, "path": f"{config}/{s}-*.parquet"} for s in sorted(splits)]}
        split_dict = SplitDict()
        download = 0
        for split, paths in sorted(splits.items()):
            metas = [pq.read_metadata(p) for p in paths]
            nbytes = sum(m.row_group(g).total_byte_size for m in metas for g in range(m.num_row_groups))
            split_dict.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=sum(m.num_rows for m in metas)))
            download += sum(p.stat().st_size for p in paths)
        infos[config] = DatasetInfo(
            features=features(),
            splits=split_dict,
            download_size=download,
            dataset_size=sum(s.num_bytes for s in split_dict.values()),
            config_name=config,
        )
    configs.to_dataset_card_data(card_data)
    infos.to_dataset_card_data(card_data)
    card.data = card_data
    if body is not None:
        card.text = body
    write_file(card_path, str(card).encode())
    return card_path


def write_file(path: Path, data: bytes) -> None:
    """``path`` written whole (its folder made first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


# -- YAML fields -------------------------------------------------------------------------------
def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if rows < bound), "10M<n<100M")


def card_fields(stats: dict) -> dict:
    # One config is one view of the kernels: the size is that of the largest config.
    rows = max(s["total"]["rows"] for s in stats["configs"].values())
    return {
        "license": "apache-2.0",
        "pretty_name": "Warp kernels paired with Warp-generated C++/CUDA code",
        "language": ["code"],
        "task_categories": ["text-generation", "translation"],
        "size_categories": [size_category(rows)],
        "tags": ["code", "compiler", "intermediate-representation", "cuda", "ptx", "warp", "nvidia-warp", "gpu", "synthetic"],
    }
