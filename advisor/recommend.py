"""Turn rule outcomes, costs and (optional) probe evidence into scores and a ranked recommendation."""
from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.costs import MethodCost, estimate_costs
from advisor.knowledge import KnowledgeBase
from advisor.rules import RuleOutcome, evaluate_rules
from advisor.situation import Situation

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MethodScore(BaseModel):
    model_config = _FROZEN
    method: str
    name: str
    rank: int
    score: float = Field(description="Prior + rule effects (+ probe evidence); higher is better.")
    probability: float = Field(description="Softmax share among feasible methods (0 when infeasible).")
    feasible: bool
    infeasible_reasons: list[str]
    prior: float
    rule_contributions: dict[str, float] = Field(description="Score change from each fired rule id.")
    probe_contribution: float = 0.0
    cost: MethodCost


class ScoredSituation(BaseModel):
    """Everything computed for one situation before it is explained."""

    model_config = _FROZEN
    outcomes: list[RuleOutcome]
    ranked: list[MethodScore]

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


def _score_rows(
    situation: Situation, kb: KnowledgeBase, probe_contributions: dict[str, float], with_trace: bool
) -> tuple[list[RuleOutcome], list[dict[str, Any]]]:
    """Scores and feasibility as plain rows, best first (feasible before infeasible)."""
    outcomes = evaluate_rules(situation, kb, with_trace)
    costs = estimate_costs(situation, kb)
    rows: list[dict[str, Any]] = []
    for order, (method, spec) in enumerate(kb.methods.items()):
        contributions = _rule_contributions(method, outcomes, kb)
        reasons = [f"rule {o.rule_id}" for o in outcomes if method in o.infeasible]
        if spec.task_types and situation.task_type.value not in spec.task_types:
            reasons.append(f"serves only {', '.join(spec.task_types)} tasks, not {situation.task_type.value}")
        if situation.n_labeled_examples < spec.min_examples:
            reasons.append(f"needs at least {spec.min_examples} labelled example(s)")
        if not costs[method].feasible and costs[method].infeasible_reason:
            reasons.append(costs[method].infeasible_reason)
        score = spec.prior_score + sum(contributions.values()) + probe_contributions.get(method, 0.0)
        rows.append(dict(method=method, name=spec.name, score=round(score, 6), feasible=not reasons,
                         infeasible_reasons=reasons, prior=spec.prior_score, rule_contributions=contributions,
                         probe_contribution=round(probe_contributions.get(method, 0.0), 6), cost=costs[method], order=order))
    rows.sort(key=lambda row: (not row["feasible"], -row["score"], row["order"]))
    return outcomes, rows


def score_situation(
    situation: Situation,
    kb: KnowledgeBase,
    probe_contributions: Optional[dict[str, float]] = None,
) -> ScoredSituation:
    outcomes, rows = _score_rows(situation, kb, probe_contributions or {}, with_trace=True)
    temperature = kb.scoring.softmax_temperature
    feasible_scores = [row["score"] for row in rows if row["feasible"]]
    peak = max(feasible_scores) if feasible_scores else 0.0
    normaliser = sum(math.exp((s - peak) / temperature) for s in feasible_scores) or 1.0
    ranked = []
    for rank, row in enumerate(rows, start=1):
        row.pop("order")
        probability = math.exp((row["score"] - peak) / temperature) / normaliser if row["feasible"] else 0.0
        ranked.append(MethodScore(rank=rank, probability=round(probability, 6), **row))
    return ScoredSituation(outcomes=outcomes, ranked=ranked)


def top_method(situation: Situation, kb: KnowledgeBase) -> str:
    """The rules-only answer, without building traces or report models (for counterfactual re-runs)."""
    return _score_rows(situation, kb, {}, with_trace=False)[1][0]["method"]


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
