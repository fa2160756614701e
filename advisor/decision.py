"""The decision when probes measured methods on the user's model: one explicit model in accuracy points.

For every feasible method, utility = expected accuracy of a full-length run + the requirement rules' effects:
- a method measured on the target model: its predicted full-length accuracy (advisor/convergence.py); the quality
  rules' guesses about it are superseded by the measurement;
- a method not measured: anchored to a measured one (its evidence sibling, e.g. rsLoRA to LoRA, else the best
  measured method) plus the difference of their quality-rule scores, converted at
  ``scoring.accuracy_points_per_score_unit``, with the anchor's uncertainty plus that conversion's;
- requirement rules (serving, latency, access, compliance, ...) add their effects to every method the same way.
Monte Carlo draws of every utility give P(best) and the confidence: P(the pick is within ``decision_tolerance`` of
the best). Near-ties (within ``cost_tie_margin``) go to the cheaper method.

With proxy evidence (a model much smaller or larger than the target) the rules keep deciding and the measured gaps
between methods are added at ``proxy_evidence_weight`` (advisor/recommend.py); the same, at full weight, when some
feasible method cannot be estimated from any measurement (e.g. every trained method failed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from advisor.knowledge import KnowledgeBase


@dataclass(frozen=True)
class ProbeDecision:
    """What the decision needs from the probes: Monte Carlo draws and expected full-length accuracy of every measured
    method, and whether the measurements were taken on a proxy (then only their gaps count, at ``proxy_weight``)."""

    samples: dict[str, list[float]]
    expected: dict[str, float]
    proxy_weight: Optional[float] = None


@dataclass(frozen=True)
class MethodUtility:
    expected_accuracy: float
    utility: float  # accuracy scale (0-1) + requirement effects in the same units
    basis: str
    samples: Any  # numpy array of utility draws


def _points(score: float, kb: KnowledgeBase) -> float:
    return score * kb.scoring.accuracy_points_per_score_unit / 100.0


def _anchor(method: str, measured: dict, kb: KnowledgeBase, expected: dict[str, float]) -> Optional[str]:
    """The measured method an unmeasured one is estimated from: its evidence sibling, then its anchors
    (knowledge/convergence.yaml), then the best measured trained method."""
    for candidate in [kb.methods[method].same_evidence_as, *kb.convergence.anchors.get(method, [])]:
        if candidate in measured:
            return candidate
    trained = [m for m in measured if kb.methods[m].needs_training and m != "linear_probe"]
    return max(trained, key=lambda m: expected[m], default=None)


def utilities(rows: list[dict], samples: dict[str, list[float]], kb: KnowledgeBase, expected: dict[str, float],
              seed: int = 0) -> dict[str, MethodUtility]:
    """``rows``: the recommender's per-method rows (feasible, prior, quality and requirement rule scores).
    ``samples``/``expected``: draws and expected full-length accuracy of the measured methods."""
    import numpy as np

    rng = np.random.default_rng(seed + 7)
    measured = {m: np.asarray(s) for m, s in samples.items()}
    quality = {row["method"]: row["prior"] + sum(row["quality_contributions"].values()) for row in rows}
    spread = kb.scoring.unpredicted_sd
    out: dict[str, MethodUtility] = {}
    for row in rows:
        method = row["method"]
        requirement = _points(sum(row["requirement_contributions"].values()), kb)
        if method in measured:
            draws, mean, basis = measured[method], expected[method], "measured on your data"
        else:
            anchor = _anchor(method, measured, kb, expected)
            if anchor is None:
                continue
            offset = _points(quality[method] - quality[anchor], kb)
            draws = measured[anchor] + offset + rng.normal(0, spread, len(measured[anchor]))
            mean = expected[anchor] + offset
            basis = f"not measured: {anchor}'s measurement {offset * 100:+.1f} points from the rules"
        out[method] = MethodUtility(expected_accuracy=round(float(np.clip(mean, 0, 1)), 4),
                                    utility=float(mean + requirement), basis=basis, samples=draws + requirement)
    return out


def decision_probabilities(util: dict[str, MethodUtility], feasible: set[str], tolerance: float
                           ) -> tuple[dict[str, float], dict[str, float]]:
    """P(best) and P(within tolerance of the best) among the feasible methods."""
    import numpy as np

    methods = [m for m in util if m in feasible]
    if not methods:
        return {}, {}
    matrix = np.array([util[m].samples for m in methods])
    best = matrix.max(axis=0)
    winners = matrix.argmax(axis=0)
    return ({m: round(float(np.mean(winners == i)), 4) for i, m in enumerate(methods)},
            {m: round(float(np.mean(matrix[i] >= best - tolerance)), 4) for i, m in enumerate(methods)})


def cost_order_key(row: dict) -> tuple:
    """Cheaper first: estimated training time, then training memory (unknown counts as expensive)."""
    cost = row["cost"]
    return (cost.est_training_hours, cost.training_memory_gib, cost.extra_tokens_per_request)
