"""The decision when probes measured methods on the user's model: one explicit model in accuracy points.

Every method's full-length accuracy gets a prior from the knowledge base and is updated by what the probe measured:
- prior: anchored to the measured methods closest in kind that have a full-length prediction (its evidence sibling,
  then the anchors of knowledge/convergence.yaml): the anchor's prediction plus the difference of the two methods'
  quality-rule scores (the rules that predict which method scores higher: data size, scale, task, capability),
  converted at ``scoring.accuracy_points_per_score_unit``, with ``rules_prior_sd`` (``sibling_prior_sd`` for
  evidence siblings such as rsLoRA and LoRA) for how far such rule gaps miss; several anchors are combined by
  precision;
- a measured method with a full-length prediction (advisor/convergence.py): prior and prediction combined by
  precision, so a converged measurement all but replaces the rules and a rough one only moves them;
- a measured method without a prediction (too few epochs): its measurement is a lower bound on the prior;
- a method not measured: the prior alone.
Utility = that accuracy + the requirement rules' effects (serving, latency, access, compliance), in the same units.
Monte Carlo draws (the shared evaluation examples bootstrapped once per draw, so measurement errors stay
correlated across methods) give P(best) and the confidence: P(the pick is within ``decision_tolerance`` of the best).
Near-ties (within ``cost_tie_margin``) go to the cheaper method.

With proxy evidence (a model much smaller or larger than the target) the rules keep deciding and the measured gaps
between methods are added at ``proxy_evidence_weight`` (advisor/recommend.py); the same, at full weight, when some
feasible method can be anchored to no measurement (e.g. every trained method failed).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Optional

from advisor.knowledge import KnowledgeBase


@dataclass(frozen=True)
class ProbeDecision:
    """What the decision needs from the probes, per measured method: Monte Carlo draws of its full-length prediction
    (or, without one, of its measurement), their mean, the prediction's standard deviation (predicted methods only),
    and whether the measurements were taken on a proxy (then only their gaps count, at ``proxy_weight``)."""

    samples: dict[str, list[float]]
    expected: dict[str, float]
    predicted_sd: dict[str, float]
    proxy_weight: Optional[float] = None
    context: Any = None  # what advisor.fusion needs to restate the evidence after the decision


@dataclass(frozen=True)
class MethodUtility:
    expected_accuracy: float
    utility: float  # accuracy scale (0-1) + requirement effects in the same units
    basis: str
    samples: Any  # numpy array of utility draws


def _points(score: float, kb: KnowledgeBase) -> float:
    return score * kb.scoring.accuracy_points_per_score_unit / 100.0


def _group(method: str, kb: KnowledgeBase) -> str:
    return kb.methods[method].same_evidence_as or method


def _anchors(method: str, probes: ProbeDecision, kb: KnowledgeBase) -> list[str]:
    """Predicted methods a prior for ``method`` may rest on: its evidence siblings, then its listed anchors."""
    predicted = [m for m in probes.predicted_sd if m != method]
    siblings = [m for m in predicted if _group(m, kb) == _group(method, kb)]
    listed = [m for m in kb.convergence.anchors.get(method, []) if m in predicted and m not in siblings]
    return siblings + listed


def _prior(method: str, probes: ProbeDecision, quality: dict[str, float], kb: KnowledgeBase,
           anchor_estimates: dict[str, tuple[float, float, Any]]):
    """(mean, sd, draws, basis) of the prior for ``method``, or None without an anchor. ``anchor_estimates``: each
    predicted method's (mean, sd, draws) that a prior may rest on."""
    import numpy as np

    anchors = _anchors(method, probes, kb)
    if not anchors:
        return None
    weights, means, draws = [], [], []
    for anchor in anchors:
        anchor_mean, anchor_sd, anchor_draws = anchor_estimates[anchor]
        gap_sd = kb.scoring.sibling_prior_sd if _group(anchor, kb) == _group(method, kb) else kb.scoring.rules_prior_sd
        offset = _points(quality[method] - quality[anchor], kb)
        weights.append(1.0 / (anchor_sd ** 2 + gap_sd ** 2))
        means.append(anchor_mean + offset)
        draws.append(np.asarray(anchor_draws) + offset)
    w = np.array(weights) / sum(weights)
    sd = math.sqrt(1.0 / sum(weights))
    # one noise stream per evidence group: siblings' rule gaps miss together (zlib.crc32: stable across processes)
    rng = np.random.default_rng(zlib.crc32(_group(method, kb).encode()))
    own_noise = math.sqrt(max(sd ** 2 - float(np.var(sum(wi * d for wi, d in zip(w, draws)))), 0.0))
    sample = sum(wi * d for wi, d in zip(w, draws)) + rng.normal(0, own_noise, len(draws[0]))
    basis = "rules, anchored to " + " and ".join(f"{a} ({(means[i] - anchor_estimates[a][0]) * 100:+.1f} points)"
                                                 for i, a in enumerate(anchors))
    return float(np.dot(w, means)), sd, sample, basis


def utilities(rows: list[dict], probes: ProbeDecision, kb: KnowledgeBase) -> dict[str, MethodUtility]:
    """``rows``: the recommender's per-method rows (feasible, prior, quality and requirement rule scores).
    Measured methods first (their priors rest on the other measured methods' predictions), then the unmeasured
    ones, whose priors rest on the measured methods' combined estimates: rsLoRA is anchored to what the decision
    believes of LoRA, not to LoRA's raw prediction."""
    import numpy as np

    quality = {row["method"]: row["prior"] + sum(row["quality_contributions"].values()) for row in rows}
    raw = {m: (probes.expected[m], sd, probes.samples[m]) for m, sd in probes.predicted_sd.items()}
    combined = dict(raw)
    accuracy: dict[str, tuple[Any, str]] = {}
    for row in sorted(rows, key=lambda r: r["method"] not in probes.samples):
        method = row["method"]
        if method in probes.predicted_sd:
            own = np.asarray(probes.samples[method])
            prior = _prior(method, probes, quality, kb, raw)
            if prior is None:
                accuracy[method] = own, "measured on your data (full-length prediction)"
            else:
                precision_own, precision_prior = 1 / probes.predicted_sd[method] ** 2, 1 / prior[1] ** 2
                w = precision_own / (precision_own + precision_prior)
                draws = w * own + (1 - w) * prior[2]
                combined[method] = (float(np.mean(draws)), math.sqrt(1 / (precision_own + precision_prior)), draws)
                accuracy[method] = draws, f"measured on your data ({w:.0%} of the weight) and {prior[3]}"
        elif method in probes.samples:  # measured, no full-length prediction: a lower bound
            floor = np.asarray(probes.samples[method])
            prior = _prior(method, probes, quality, kb, raw)
            accuracy[method] = ((floor, "measured on your data after a short probe (a lower bound; no prediction)")
                                if prior is None else
                                (np.maximum(floor, prior[2]), f"{prior[3]}; at least its short-probe measurement"))
        elif (prior := _prior(method, probes, quality, kb, combined)) is not None:
            accuracy[method] = prior[2], f"not measured: {prior[3]}"
    out: dict[str, MethodUtility] = {}
    for row in rows:
        if row["method"] not in accuracy:
            continue
        draws, basis = accuracy[row["method"]]
        requirement = _points(sum(row["requirement_contributions"].values()), kb)
        mean = float(np.mean(draws))
        out[row["method"]] = MethodUtility(expected_accuracy=round(float(np.clip(mean, 0, 1)), 4), utility=mean + requirement,
                                           basis=basis, samples=np.asarray(draws) + requirement)
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
