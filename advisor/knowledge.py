"""The knowledge base as the advisor uses it: knowledge.loader plus the checks that need the Situation model.

A rule may only test Situation fields, with values its field allows; a method's task_types must be TaskType
values. Both are checked at load time, so a malformed rule fails here, never while advising.
"""
from __future__ import annotations

import typing
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Optional

from advisor.situation import Situation, TaskType
from knowledge.errors import KnowledgeBaseError
from knowledge.loader import default_knowledge_dir, load_knowledge as _load_knowledge_files, suggest
from knowledge.models import (AllOf, AnyOf, Clause, Condition, CostConstants, Effect, KnowledgeBase, MethodSpec,
                              ModelShape, Rule, RuleCases, Scoring, Source)

__all__ = ["load_knowledge", "default_knowledge", "default_knowledge_dir", "KnowledgeBase", "Rule", "Clause", "AllOf",
           "AnyOf", "Condition", "Effect", "RuleCases", "MethodSpec", "ModelShape", "CostConstants", "Scoring", "Source",
           "walk_clauses"]


def _enum_values(field_name: str) -> Optional[set[str]]:
    annotation = Situation.model_fields[field_name].annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return {member.value for member in candidate}
    return None


def walk_clauses(condition: Condition) -> typing.Iterator[Clause]:
    if isinstance(condition, Clause):
        yield condition
    else:
        for child in (condition.all if isinstance(condition, AllOf) else condition.any):
            yield from walk_clauses(child)


def _check_clause(clause: Clause, where: str) -> None:
    fields = Situation.model_fields
    if clause.field not in fields:
        raise KnowledgeBaseError(f"{where} references unknown field {clause.field!r}{suggest(clause.field, fields)}")
    if clause.op in ("in", "not_in") and not isinstance(clause.value, list):
        raise KnowledgeBaseError(f"{where}: operator {clause.op!r} on field {clause.field!r} needs a list value, got {clause.value!r}")
    allowed = _enum_values(clause.field)
    if allowed is None:
        return
    for value in (clause.value if clause.op in ("in", "not_in") else [clause.value]):
        if value not in allowed:
            raise KnowledgeBaseError(
                f"{where}: field {clause.field!r} must be one of {sorted(allowed)}, got {value!r}{suggest(str(value), allowed)}")
    if clause.op in ("lt", "le", "gt", "ge"):
        raise KnowledgeBaseError(f"{where}: operator {clause.op!r} cannot compare the categorical field {clause.field!r}")


def _check_rule_fields(rule: Rule, where: str) -> None:
    for clause in walk_clauses(rule.when):
        _check_clause(clause, f"{where} rule {rule.id!r}")


def _check_task_types(kb: KnowledgeBase, directory: Path) -> None:
    known = {t.value for t in TaskType}
    for method in kb.methods.values():
        for task_type in method.task_types:
            if task_type not in known:
                raise KnowledgeBaseError(f"{directory / 'methods.yaml'} method {method.id.value!r}: unknown task type "
                                         f"{task_type!r}{suggest(task_type, known)}")


def load_knowledge(directory: str | Path | None = None) -> KnowledgeBase:
    """Read and validate every knowledge file, including the Situation-dependent checks. Raises KnowledgeBaseError."""
    root = Path(directory) if directory is not None else default_knowledge_dir()
    kb = _load_knowledge_files(root, check_rule=_check_rule_fields)
    _check_task_types(kb, root)
    return kb


@lru_cache(maxsize=1)
def default_knowledge() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process (it is frozen, so safe to share)."""
    return load_knowledge()
