"""A ``datasets`` builder for warp-ir-dataset: generates the rows itself, no download.

``datasets`` 4+ no longer runs loading scripts by name, so instantiate the class directly::

    from builder_scripts.warp_ir_dataset import WarpIRDataset
    builder = WarpIRDataset(config_name="cpu", target_mb=3, seed=0, cache_dir="/tmp/hf")
    builder.download_and_prepare(file_format="parquet")
    ds = builder.as_dataset(split="train")

It yields the same rows, in the same order, as
``python -m warp_ir_dataset.build --config cpu --target-mb 3 --seed 0``; with ``real=True`` also
the ``real`` split of ``build --real`` (published Warp code; ``real_sources`` can name others).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets.builder import Key

from warp_ir_dataset.build import DEFAULT_ROWS_PER_SHARD, MB, BuildOptions, iter_tables
from warp_ir_dataset.extract import ExtractOptions, iter_extracted_tables
from warp_ir_dataset.schema import CONFIGS, features
from warp_ir_dataset.sources import REAL_SPLIT, real_sources
from warp_ir_dataset.validate import DEFAULT_ARCH, ValidationPlan


@dataclass
class WarpIRConfig(datasets.BuilderConfig):
    target_mb: float = 3.0
    seed: int = 0
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
    validate: str = "sample"
    arch: int = DEFAULT_ARCH
    ptx: bool = False
    real: bool = False  # also the `real` split, extracted from published Warp code
    real_sources: tuple[str, ...] | None = None  # None: what `build --real` extracts


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
        splits = [
            datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"split": "train"}),
            datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={"split": "test"}),
        ]
        if self.config.real:
            splits.append(datasets.SplitGenerator(name=REAL_SPLIT, gen_kwargs={"split": REAL_SPLIT}))
        return splits

    def _generate_tables(self, split: str):
        cfg = self.config
        if split == REAL_SPLIT:
            plan = ValidationPlan(cfg.validate, cfg.arch, cfg.ptx)
            sources = tuple(cfg.real_sources or real_sources())
            opts = ExtractOptions(sources, cfg.name, Path("."), REAL_SPLIT, validation=plan)
            for index, table in iter_extracted_tables(opts):
                yield Key(index, 0), table.replace_schema_metadata(None)
            return
        stash = getattr(self, "_test_stash", None)
        if split == "test" and stash is not None:
            yield from stash
            return
        plan = ValidationPlan(cfg.validate, cfg.arch, cfg.ptx)
        opts = BuildOptions(cfg.name, int(cfg.target_mb * MB), Path("."), cfg.seed, 1, cfg.rows_per_shard, plan)
        self._test_stash = []
        for index, tables in iter_tables(opts):
            if "test" in tables:
                self._test_stash.append((Key(index, 0), tables["test"].replace_schema_metadata(None)))
            if split in tables:
                yield Key(index, 0), tables[split].replace_schema_metadata(None)
