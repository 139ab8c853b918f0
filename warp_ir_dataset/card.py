"""Stage 5: the dataset card (README.md) in the output folder.

``update_card_metadata`` rewrites the card's YAML header from the shards on disk (``configs`` and
``dataset_info`` for every config present), keeping the prose below it. ``datasets`` casts the
YAML features onto the Parquet data and checks ``num_examples``, so this runs after every build.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from .schema import CONFIGS

DEFAULT_CARD = """---
{}
---
# Warp kernels → generated C++/CUDA code

Synthetic NVIDIA Warp kernels (`@wp.kernel` Python source) paired with the code Warp's own
compiler generates for them. Load a config with `datasets.load_dataset(FOLDER, "cpu")`.
"""


def split_files(folder: Path, config: str) -> dict[str, list[Path]]:
    """Shard files of one config by split, from their names (``train-00000.parquet``)."""
    splits: dict[str, list[Path]] = {}
    for path in sorted((folder / config).glob("*.parquet")):
        splits.setdefault(path.name.split("-")[0], []).append(path)
    return splits


def update_card_metadata(folder: Path) -> Path:
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    from .schema import features

    card_path = folder / "README.md"
    card = DatasetCard(card_path.read_text() if card_path.exists() else DEFAULT_CARD, ignore_metadata_errors=True)
    data = card.data.to_dict()
    data.pop("configs", None)
    data.pop("dataset_info", None)
    card_data = DatasetCardData(**data)
    configs, infos = MetadataConfigs(), DatasetInfosDict()
    for config in CONFIGS:
        splits = split_files(folder, config)
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
    tmp = card_path.with_name(".README.md.tmp")
    tmp.write_text(str(card))
    tmp.replace(card_path)
    return card_path
