"""Read every knowledge file, validate it into frozen models and cross-check ids: one loader, one content hash.

Everything is checked at load time: unknown fields, operators, methods and source ids fail here with the file,
the entry and the field named (and a "did you mean"), never while advising. Checks that need the advisor's
Situation model (which fields a rule may test) are passed in as ``check_rule``.
"""
from __future__ import annotations

import hashlib
import typing
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Callable, Optional

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import KnowledgeBaseError
from knowledge.method import Method
from knowledge.models import ConvergenceModel, CostConstants, Grade, KnowledgeBase, MethodSpec, Rule, Scoring, Source

KNOWLEDGE_FILES = ("sources.yaml", "methods.yaml", "recipes.yaml", "costs.yaml", "scoring.yaml", "case_base.yaml", "probes.yaml",
                   "convergence.yaml")
RuleCheck = Callable[[Rule, str], None]


def default_knowledge_dir() -> Path:
    return Path(__file__).resolve().parent


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"Knowledge file {path} is missing.") from None
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"Knowledge file {path} is not valid YAML: {error}") from None


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    close = get_close_matches(name, [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top)'}: {item['msg']} (got {item.get('input')!r})"
            for item in error.errors()
        )
        raise KnowledgeBaseError(f"{where} is malformed: {problems}") from None


def _check_cited(source_ids: typing.Iterable[str], sources: dict[str, Source], where: str) -> None:
    for source_id in source_ids:
        if source_id not in sources:
            raise KnowledgeBaseError(f"{where} cites unknown source {source_id!r}{suggest(source_id, sources)}")


def _load_sources(path: Path) -> tuple[dict[str, Source], dict[str, float]]:
    document = read_yaml(path) or {}
    grade_weights = document.get("grade_weights", {})
    sources: dict[str, Source] = {}
    for index, raw in enumerate(document.get("sources", [])):
        source = parse(Source, raw, f"{path} entry {index}")
        if source.id in sources:
            raise KnowledgeBaseError(f"{path}: duplicate source id {source.id!r}")
        sources[source.id] = source
    for grade in typing.get_args(Grade):
        if grade not in grade_weights:
            raise KnowledgeBaseError(f"{path}: grade_weights lacks a weight for grade {grade!r}")
    return sources, grade_weights


def _load_methods(path: Path, sources: dict[str, Source]) -> dict[str, MethodSpec]:
    methods: dict[str, MethodSpec] = {}
    for index, raw in enumerate((read_yaml(path) or {}).get("methods", [])):
        method = parse(MethodSpec, raw, f"{path} entry {index}")
        _check_cited(method.prior_sources, sources, f"{path} method {method.id.value!r}")
        methods[method.id.value] = method
    missing = {m.value for m in Method} - set(methods)
    if missing:
        raise KnowledgeBaseError(f"{path}: no entry for methods {sorted(missing)} of the Method enum")
    for method in methods.values():
        if method.same_evidence_as and method.same_evidence_as not in methods:
            raise KnowledgeBaseError(f"{path} method {method.id.value!r}: same_evidence_as names unknown method {method.same_evidence_as!r}")
    return methods


def _check_rule(rule: Rule, sources: dict[str, Source], methods: dict[str, MethodSpec], where: str) -> None:
    _check_cited(rule.sources, sources, f"{where} rule {rule.id!r}")
    for method_id in [*rule.effect.favor, *rule.effect.infeasible, *rule.effect.except_methods]:
        if method_id not in methods:
            raise KnowledgeBaseError(f"{where} rule {rule.id!r} names unknown method {method_id!r}{suggest(method_id, methods)}")
    for key in rule.effect.infeasible_methods_with:
        if key not in MethodSpec.model_fields:
            raise KnowledgeBaseError(f"{where} rule {rule.id!r}: infeasible_methods_with names unknown method property {key!r}{suggest(key, MethodSpec.model_fields)}")
    if not (rule.effect.favor or rule.effect.infeasible or rule.effect.infeasible_methods_with or rule.effect.caveat):
        raise KnowledgeBaseError(f"{where} rule {rule.id!r} has an empty effect: give favor, infeasible or caveat")


def _expand_selector(rule: Rule, methods: dict[str, MethodSpec]) -> Rule:
    """Resolve ``infeasible_methods_with`` against methods.yaml, so a new method is covered without editing rules."""
    selector = rule.effect.infeasible_methods_with
    if not selector:
        return rule
    matched = [m for m, spec in methods.items()
               if all(getattr(spec, k) == v for k, v in selector.items()) and m not in rule.effect.except_methods]
    infeasible = list(dict.fromkeys([*rule.effect.infeasible, *matched]))
    return rule.model_copy(update={"effect": rule.effect.model_copy(update={"infeasible": infeasible})})


def _load_rules(rule_files: list[Path], sources, methods, check_rule: Optional[RuleCheck]) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in rule_files:
        for index, raw in enumerate((read_yaml(path) or {}).get("rules", [])):
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            rule = parse(Rule, {**raw, "file": path.name} if isinstance(raw, dict) else raw, f"{path} rule {label!r}")
            if rule.id in seen:
                raise KnowledgeBaseError(f"{path}: rule id {rule.id!r} is already defined in {seen[rule.id]}")
            seen[rule.id] = path.name
            _check_rule(rule, sources, methods, str(path))
            if check_rule is not None:
                check_rule(rule, str(path))
            rules.append(_expand_selector(rule, methods))
    for rule in rules:
        for other in [*rule.contradicts, *rule.contradicted_by]:
            if other not in seen:
                raise KnowledgeBaseError(f"{rule.file} rule {rule.id!r} refers to unknown rule {other!r}{suggest(other, seen)}")
    return rules


def _load_recipes(path: Path, sources, methods) -> dict[str, dict[str, Any]]:
    recipes = (read_yaml(path) or {}).get("recipes", {})
    for method_id, recipe in recipes.items():
        if method_id not in methods:
            raise KnowledgeBaseError(f"{path}: recipe for unknown method {method_id!r}{suggest(method_id, methods)}")
        _check_cited(recipe.get("sources", []), sources, f"{path} recipe {method_id!r}")
    missing = set(methods) - set(recipes)
    if missing:
        raise KnowledgeBaseError(f"{path}: no recipe for methods {sorted(missing)}")
    return recipes


def content_hash(root: Path) -> str:
    """One hash over every YAML file under the knowledge directory (probe settings included)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_knowledge(directory: str | Path | None = None, check_rule: Optional[RuleCheck] = None) -> KnowledgeBase:
    """Read every knowledge file, validate it and cross-check ids. Raises KnowledgeBaseError."""
    root = Path(directory) if directory is not None else default_knowledge_dir()
    sources, grade_weights = _load_sources(root / "sources.yaml")
    methods = _load_methods(root / "methods.yaml", sources)
    rule_files = sorted((root / "rules").glob("*.yaml"))
    if not rule_files:
        raise KnowledgeBaseError(f"No rule files found under {root / 'rules'}")
    return KnowledgeBase(
        sources=sources, grade_weights=grade_weights, methods=methods,
        rules=_load_rules(rule_files, sources, methods, check_rule),
        costs=parse(CostConstants, read_yaml(root / "costs.yaml"), f"{root / 'costs.yaml'}"),
        scoring=parse(Scoring, read_yaml(root / "scoring.yaml"), f"{root / 'scoring.yaml'}"),
        case_base=read_yaml(root / "case_base.yaml") or {},
        recipes=_load_recipes(root / "recipes.yaml", sources, methods),
        convergence=parse(ConvergenceModel, read_yaml(root / "convergence.yaml"), f"{root / 'convergence.yaml'}"),
        probe_settings=read_yaml(root / "probes.yaml") or {},
        content_hash=content_hash(root),
    )
