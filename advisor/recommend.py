"""Turn rule outcomes, costs and (optional) probe evidence into scores and a ranked recommendation."""
from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.costs import MethodCost, estimate_costs
from advisor.decision import ProbeDecision
from advisor.knowledge import KnowledgeBase
from advisor.rules import RuleOutcome, evaluate_rules
from advisor.situation import Situation

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MethodScore(BaseModel):
    model_config = _FROZEN
    method: str
    name: str
    rank: int
    score: float = Field(description="Rules only: prior + rule effects. With probes on your model: utility in rule-score "
                         "units (expected full-length accuracy + requirement effects, / accuracy_points_per_score_unit).")
    probability: float = Field(description="Rules only: softmax share among feasible methods. With probes on your model: "
                               "probability of being the best after full-length training (Monte Carlo). 0 when infeasible.")
    feasible: bool
    infeasible_reasons: list[str]
    prior: float
    rule_contributions: dict[str, float] = Field(description="Score change from each fired rule id.")
    probe_contribution: float = 0.0
    expected_accuracy: Optional[float] = Field(default=None, description="With probes: expected accuracy of a full-length run.")
    p_within_tolerance: Optional[float] = Field(default=None, description="With probes: probability of being within the "
                                                "decision tolerance of the best method.")
    evidence: str = Field(default="rules", description="What the score rests on: rules, measured on your data, or anchored to a measured method.")
    cost: MethodCost


class ScoredSituation(BaseModel):
    """Everything computed for one situation before it is explained."""

    model_config = _FROZEN
    outcomes: list[RuleOutcome]
    ranked: list[MethodScore]
    decided_by_probes: bool = False

    @property
    def top(self) -> MethodScore:
        return self.ranked[0]


def _rule_contributions(method: str, outcomes: list[RuleOutcome], kb: KnowledgeBase) -> dict[str, float]:
    sibling = kb.methods[method].same_evidence_as
    contributions: dict[str, float] = {}
    for outcome in outcomes:
        if not outcome.fired:
            continue
        if method in outcome.weighted_favor:
            contributions[outcome.rule_id] = outcome.weighted_favor[method]
        elif sibling and sibling in outcome.weighted_favor:
            contributions[outcome.rule_id] = outcome.weighted_favor[sibling]
    return contributions


def _infeasible_reasons(method: str, situation: Situation, outcomes: list[RuleOutcome], cost: MethodCost, kb: KnowledgeBase) -> list[str]:
    spec = kb.methods[method]
    reasons = [f"rule {o.rule_id}" for o in outcomes if method in o.infeasible]
    if spec.task_types and situation.task_type.value not in spec.task_types:
        reasons.append(f"serves only {', '.join(spec.task_types)} tasks, not {situation.task_type.value}")
    if situation.n_labeled_examples < spec.min_examples:
        reasons.append(f"needs at least {spec.min_examples} labelled example(s)")
    if not cost.feasible and cost.infeasible_reason:
        reasons.append(cost.infeasible_reason)
    return reasons


def _score_rows(situation: Situation, kb: KnowledgeBase, with_trace: bool) -> tuple[list[RuleOutcome], list[dict[str, Any]]]:
    """Per method: prior, rule effects (quality and requirement rules apart), feasibility and cost; rules-only score."""
    outcomes = evaluate_rules(situation, kb, with_trace)
    costs = estimate_costs(situation, kb)
    quality_files = set(kb.scoring.quality_rule_files)
    rows: list[dict[str, Any]] = []
    for order, (method, spec) in enumerate(kb.methods.items()):
        contributions = _rule_contributions(method, outcomes, kb)
        reasons = _infeasible_reasons(method, situation, outcomes, costs[method], kb)
        quality = {r: v for r, v in contributions.items() if kb.rule(r).file in quality_files}
        rows.append(dict(method=method, name=spec.name, score=round(spec.prior_score + sum(contributions.values()), 6),
                         feasible=not reasons, infeasible_reasons=reasons, prior=spec.prior_score,
                         rule_contributions=contributions, quality_contributions=quality,
                         requirement_contributions={r: v for r, v in contributions.items() if r not in quality},
                         cost=costs[method], order=order))
    return outcomes, rows


def _rank(rows: list[dict[str, Any]], tie_margin: float = 0.0) -> list[dict[str, Any]]:
    """Feasible first, best score first; among feasible methods within ``tie_margin`` of the best, the cheapest (at
    equal cost, one the probe measured: an unmeasured sibling such as rsLoRA does not displace the LoRA it rests on)."""
    from advisor.decision import cost_order_key

    rows.sort(key=lambda row: (not row["feasible"], -row["score"], row["order"]))
    if tie_margin > 0 and rows and rows[0]["feasible"]:
        near = [r for r in rows if r["feasible"] and rows[0]["score"] - r["score"] <= tie_margin]
        if len(near) > 1:
            cheapest = min(near, key=lambda r: (cost_order_key(r), not r.get("measured", False)))
            rows.remove(cheapest)
            rows.insert(0, cheapest)
    return rows


def _softmax(rows: list[dict[str, Any]], temperature: float) -> None:
    feasible_scores = [row["score"] for row in rows if row["feasible"]]
    peak = max(feasible_scores) if feasible_scores else 0.0
    normaliser = sum(math.exp((s - peak) / temperature) for s in feasible_scores) or 1.0
    for row in rows:
        row["probability"] = math.exp((row["score"] - peak) / temperature) / normaliser if row["feasible"] else 0.0


def _add_measured_gaps(rows: list[dict[str, Any]], probes: ProbeDecision, weight: float, kb: KnowledgeBase, label: str) -> None:
    """Rules decide; each method gets ``weight`` x its measured (or its sibling's) gap to the measured mean."""
    per_unit = kb.scoring.accuracy_points_per_score_unit / 100.0
    mean = sum(probes.expected.values()) / max(len(probes.expected), 1)
    for row in rows:
        sibling = kb.methods[row["method"]].same_evidence_as
        source = row["method"] if row["method"] in probes.expected else sibling if sibling in probes.expected else None
        if source:
            row["probe_contribution"] = round(weight * (probes.expected[source] - mean) / per_unit, 6)
            row["score"] = round(row["score"] + row["probe_contribution"], 6)
            row["evidence"] = label


def _decide_by_probes(rows: list[dict[str, Any]], probes: ProbeDecision, kb: KnowledgeBase) -> bool:
    """Scores from the decision model (advisor/decision.py); False (rows untouched) when a feasible method cannot be
    estimated from any measurement."""
    from advisor.decision import decision_probabilities, utilities

    per_unit = kb.scoring.accuracy_points_per_score_unit / 100.0
    util = utilities(rows, probes, kb)
    if any(row["feasible"] and row["method"] not in util for row in rows):
        return False
    p_best, within = decision_probabilities(util, {r["method"] for r in rows if r["feasible"]}, kb.scoring.decision_tolerance)
    for row in rows:
        u = util.get(row["method"])
        if u is None:  # infeasible and unanchored: ranked after every feasible method anyway
            continue
        rules_score = row["score"]
        row.update(score=round(u.utility / per_unit, 6), expected_accuracy=u.expected_accuracy, evidence=u.basis,
                   probability=p_best.get(row["method"], 0.0), p_within_tolerance=within.get(row["method"]),
                   probe_contribution=round(u.utility / per_unit - rules_score, 6), measured=row["method"] in probes.samples)
    return True


def score_situation(situation: Situation, kb: KnowledgeBase, probes: Optional[ProbeDecision] = None) -> ScoredSituation:
    outcomes, rows = _score_rows(situation, kb, with_trace=True)
    for row in rows:
        row.update(probe_contribution=0.0, evidence="rules")
    decided = False
    if probes is not None and probes.samples:
        if probes.proxy_weight is not None:
            _add_measured_gaps(rows, probes, probes.proxy_weight, kb, "rules + proxy measurement")
        elif not (decided := _decide_by_probes(rows, probes, kb)):
            _add_measured_gaps(rows, probes, 1.0, kb, "rules + measurement")
    if not decided:
        _softmax(rows, kb.scoring.softmax_temperature)
    tie = kb.scoring.cost_tie_margin / (kb.scoring.accuracy_points_per_score_unit / 100.0) if decided else 0.0
    ranked = []
    for rank, row in enumerate(_rank(rows, tie), start=1):
        row = {k: v for k, v in row.items() if k not in ("order", "quality_contributions", "requirement_contributions", "measured")}
        row["probability"] = round(row.get("probability", 0.0), 6)
        ranked.append(MethodScore(rank=rank, **row))
    return ScoredSituation(outcomes=outcomes, ranked=ranked, decided_by_probes=decided)


def top_method(situation: Situation, kb: KnowledgeBase) -> str:
    """The rules-only answer, without building traces or report models (for counterfactual re-runs)."""
    return _rank(_score_rows(situation, kb, with_trace=False)[1])[0]["method"]


class Counterfactual(BaseModel):
    model_config = _FROZEN
    field: str
    current_value: Any
    new_value: Any
    direction: str = Field(description="'at_least', 'at_most' or 'set_to'.")
    new_method: str


def _numeric_counterfactuals(situation: Situation, kb: KnowledgeBase, field: str, grid: list[float], current_top: str) -> list[Counterfactual]:
    current = getattr(situation, field)
    integer = isinstance(current, int)
    found = []
    above = sorted(v for v in grid if v > current)
    below = sorted((v for v in grid if v < current), reverse=True)
    for direction, values in (("at_least", above), ("at_most", below)):
        for value in values:
            value = int(value) if integer else float(value)
            if field == "model_params_b" and value <= 0:
                continue
            changed = situation.model_copy(update={field: value})
            top = top_method(changed, kb)
            if top != current_top:
                found.append(Counterfactual(field=field, current_value=current, new_value=value, direction=direction, new_method=top))
                break
    return found


def _categorical_counterfactuals(situation: Situation, kb: KnowledgeBase, current_top: str) -> list[Counterfactual]:
    from enum import Enum

    found = []
    for field, info in Situation.model_fields.items():
        current = getattr(situation, field)
        if isinstance(current, bool):
            alternatives: list[Any] = [not current]
        elif isinstance(current, Enum):
            alternatives = [member for member in type(current) if member != current]
        else:
            continue
        for value in alternatives:
            top = top_method(situation.model_copy(update={field: value}), kb)
            if top != current_top:
                plain = value.value if isinstance(value, Enum) else value
                now = current.value if isinstance(current, Enum) else current
                found.append(Counterfactual(field=field, current_value=now, new_value=plain, direction="set_to", new_method=top))
    return found


def find_counterfactuals(situation: Situation, kb: KnowledgeBase, rules_top: str) -> list[Counterfactual]:
    """Re-run the rules engine on changed situations and keep the changes that flip the answer."""
    found: list[Counterfactual] = []
    for field, grid in kb.scoring.counterfactual_grid.items():
        found.extend(_numeric_counterfactuals(situation, kb, field, grid, rules_top))
    found.extend(_categorical_counterfactuals(situation, kb, rules_top))
    return found
