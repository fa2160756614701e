"""Paired comparisons: two methods scored on the same examples, their difference with a 95% interval.

The interval is the normal approximation on per-example differences (for accuracy, the Wald form of McNemar's
comparison); with k-fold cross-validation repeated R times, the R results of one example are averaged first, so
the examples (not their repetitions) are the independent units. The resolvable difference is the interval's
half-width: differences smaller than it cannot be told from zero with this many examples.
"""
from __future__ import annotations

import math
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.measurements import Measured

Z_95 = 1.959964
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class PairedDifference(BaseModel):
    model_config = _FROZEN
    method: str
    versus: str
    difference: float = Field(description="Measured metric of ``method`` minus ``versus`` on the same examples (0-1 scale).")
    low: float = Field(description="Lower end of the 95% paired interval.")
    high: float = Field(description="Upper end of the 95% paired interval.")
    n_pairs: int = Field(description="Examples scored by both (k-fold: distinct examples, repetitions averaged).")
    resolvable: float = Field(description="Half-width of the interval: the smallest difference this evaluation can resolve.")
    discordant_share: float = Field(description="Share of examples on which the two disagree (accuracy: one right, one wrong).")
    what: str = Field(description="What was compared, e.g. 'measured after 80 steps vs measured (no training)'.")

    @property
    def resolved(self) -> bool:
        return self.low > 0 or self.high < 0


def _example_means(per_example: dict) -> dict:
    """k-fold keys are (row, repeat): average each row over its repetitions."""
    sums: dict = {}
    for key, value in per_example.items():
        row = key[0] if isinstance(key, tuple) else key
        total, count = sums.get(row, (0.0, 0))
        sums[row] = (total + value, count + 1)
    return {row: total / count for row, (total, count) in sums.items()}


def paired_difference(a: Measured, b: Measured, what: str = "") -> Optional[PairedDifference]:
    first, second = _example_means(a.per_example), _example_means(b.per_example)
    shared = sorted(set(first) & set(second), key=str)
    if len(shared) < 2:
        return None
    diffs = [first[k] - second[k] for k in shared]
    n = len(diffs)
    mean = sum(diffs) / n
    variance = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    half = Z_95 * math.sqrt(variance / n)
    discordant = sum(1 for d in diffs if abs(d) > 1e-9) / n
    return PairedDifference(method=a.method, versus=b.method, difference=round(mean, 5), low=round(mean - half, 5),
                            high=round(mean + half, 5), n_pairs=n, resolvable=round(half, 5),
                            discordant_share=round(discordant, 4), what=what)


def difference_samples(a: Measured, b: Measured, n_samples: int, rng) -> Optional[list[float]]:
    """Paired bootstrap of the mean difference (resampling examples), for the decision's Monte Carlo."""
    import numpy as np

    first, second = _example_means(a.per_example), _example_means(b.per_example)
    shared = sorted(set(first) & set(second), key=str)
    if len(shared) < 2:
        return None
    diffs = np.array([first[k] - second[k] for k in shared])
    picks = rng.integers(0, len(diffs), size=(n_samples, len(diffs)))
    return diffs[picks].mean(axis=1).tolist()
