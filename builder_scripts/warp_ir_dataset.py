"""A ``datasets`` builder for warp-ir-dataset: generates the rows itself, no download.

``datasets`` 4+ no longer runs loading scripts by name, so instantiate the class directly::

    from builder_scripts.warp_ir_dataset import WarpIRDataset
    builder = WarpIRDataset(config_name="cpu", target_mb=3, seed=0, cache_dir="/tmp/hf")
    builder.download_and_prepare(file_format="parquet")
    ds = builder.as_dataset(split="train")

It yields the same rows, in the same order, as
``python -m warp_ir_dataset.build --config cpu --target-mb 3 --seed 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets.builder import Key

from warp_ir_dataset.build import DEFAULT_ROWS_PER_SHARD, MB, BuildOptions, iter_tables
from warp_ir_dataset.schema import CONFIGS, features
from warp_ir_dataset.validate import DEFAULT_ARCH, ValidationPlan


@dataclass
class WarpIRConfig(datasets.BuilderConfig):
    target_mb: float = 3.0
    seed: int = 0
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
    validate: str = "sample"
    arch: int = DEFAULT_ARCH
    ptx: bool = False


class WarpIRDataset(datasets.ArrowBasedBuilder):
    """NVIDIA Warp kernels paired with Warp's generated code for one device per config."""

    BUILDER_CONFIG_CLASS = WarpIRConfig
    BUILDER_CONFIGS = [WarpIRConfig(name=c, description=f"Warp kernels with {c} code") for c in CONFIGS]
    DEFAULT_CONFIG_NAME = "cpu"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="Synthetic NVIDIA Warp kernels paired with Warp's generated C++/CUDA code.",
            features=features(),
            license="apache-2.0",
        )

    def _split_generators(self, dl_manager):
        # train first: generating it stashes the (small, ~2%) test split on the way.
        return [
            datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"split": "train"}),
            datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={"split": "test"}),
        ]

    def _generate_tables(self, split: str):
        stash = getattr(self, "_test_stash", None)
        if split == "test" and stash is not None:
            yield from stash
            return
        cfg = self.config
        plan = ValidationPlan(cfg.validate, cfg.arch, cfg.ptx)
        opts = BuildOptions(cfg.name, int(cfg.target_mb * MB), Path("."), cfg.seed, 1, cfg.rows_per_shard, plan)
        self._test_stash = []
        for index, tables in iter_tables(opts):
            if "test" in tables:
                self._test_stash.append((Key(index, 0), tables["test"].replace_schema_metadata(None)))
            if split in tables:
                yield Key(index, 0), tables[split].replace_schema_metadata(None)
