"""Evaluate every rule against a situation and keep a trace of every clause."""
from __future__ import annotations

import operator
from enum import Enum
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict

from advisor.knowledge import AllOf, AnyOf, Clause, Condition, KnowledgeBase, Rule
from advisor.situation import Situation


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        if actual is None or expected is None:
            return False  # an unanswered optional field never satisfies an ordering
        return op(actual, expected)

    return compare


OPERATOR_TABLE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": _compare(operator.lt),
    "le": _compare(operator.le),
    "gt": _compare(operator.gt),
    "ge": _compare(operator.ge),
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
}


class ClauseTrace(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str
    op: str
    expected: Any
    actual: Any
    passed: bool


class RuleOutcome(BaseModel):
    """Whether one rule fired for this situation, why, and what it does to the scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rule_id: str
    fired: bool
    trace: list[ClauseTrace]
    grade: str
    grade_weight: float
    weighted_favor: dict[str, float]
    infeasible: list[str]
    caveat: bool


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _evaluate(condition: Condition, values: dict[str, Any], trace: Optional[list[ClauseTrace]]) -> bool:
    """Evaluate without short-circuit so the trace (when asked for) shows every clause."""
    if isinstance(condition, Clause):
        actual = values[condition.field]
        passed = bool(OPERATOR_TABLE[condition.op](actual, condition.value))
        if trace is not None:
            trace.append(ClauseTrace(field=condition.field, op=condition.op, expected=condition.value, actual=actual, passed=passed))
        return passed
    if isinstance(condition, AllOf):
        results = [_evaluate(child, values, trace) for child in condition.all]
        return all(results)
    assert isinstance(condition, AnyOf)
    results = [_evaluate(child, values, trace) for child in condition.any]
    return any(results)


def situation_values(situation: Situation) -> dict[str, Any]:
    return {name: _plain(getattr(situation, name)) for name in Situation.model_fields}


def evaluate_rule(rule: Rule, values: dict[str, Any], kb: KnowledgeBase, with_trace: bool = True) -> RuleOutcome:
    trace: Optional[list[ClauseTrace]] = [] if with_trace else None
    fired = _evaluate(rule.when, values, trace)
    weight = kb.rule_grade_weight(rule)
    return RuleOutcome(
        rule_id=rule.id,
        fired=fired,
        trace=trace or [],
        grade=kb.rule_grade(rule),
        grade_weight=weight,
        weighted_favor={m: round(delta * weight, 6) for m, delta in rule.effect.favor.items()} if fired else {},
        infeasible=list(rule.effect.infeasible) if fired else [],
        caveat=rule.effect.caveat and fired,
    )


def evaluate_rules(situation: Situation, kb: KnowledgeBase, with_trace: bool = True) -> list[RuleOutcome]:
    """Evaluate every rule (no stop-on-first); the result is deterministic and in knowledge order.

    ``with_trace=False`` skips the per-clause trace (used for the many counterfactual re-runs).
    """
    values = situation_values(situation)
    return [evaluate_rule(rule, values, kb, with_trace) for rule in kb.rules]
