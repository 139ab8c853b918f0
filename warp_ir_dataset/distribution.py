"""How the dataset summarizes a list of lengths or counts: nearest-rank percentiles and log2 bins
(one definition for the statistics, the realism comparison and the card)."""
from __future__ import annotations

import numpy as np

PERCENTILES = (50, 90, 99)


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def distribution(values: np.ndarray) -> dict:
    """min/p50/p90/p99/max (nearest rank), mean, and a log2 histogram (bin 0 holds zeros, bin
    k ≥ 1 holds values in [2^(k-1), 2^k))."""
    if not len(values):
        return {"count": 0}
    v = np.sort(values)
    out = {"count": int(len(v)), "min": int(v[0]), "max": int(v[-1]), "mean": round(float(v.mean()), 1)}
    for p in PERCENTILES:
        out[f"p{p}"] = int(v[max(int(np.ceil(p / 100 * len(v))) - 1, 0)])
    bins = np.where(v > 0, np.floor(np.log2(np.maximum(v, 1))).astype(np.int64) + 1, 0)
    out["log2_histogram"] = np.bincount(bins).tolist()
    return out
