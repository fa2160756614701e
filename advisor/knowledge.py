"""Load and validate the knowledge base (knowledge/*.yaml) into frozen models.

Everything is checked at load time: unknown fields, operators, methods and source ids fail
here with the file, the rule and the field named (and a "did you mean"), never while advising.
"""
from __future__ import annotations

import hashlib
import typing
from difflib import get_close_matches
from enum import Enum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.errors import KnowledgeBaseError
from advisor.situation import Situation, TaskType
from knowledge.method import Method, MethodFamily

Grade = Literal["peer-reviewed", "vendor-guidance", "rule-of-thumb"]
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in")
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Source(BaseModel):
    model_config = _FROZEN
    id: str
    title: str
    authors: str
    year: int
    url: Optional[str]
    grade: Grade


class Clause(BaseModel):
    model_config = _FROZEN
    field: str
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"]
    value: Any


class AllOf(BaseModel):
    model_config = _FROZEN
    all: list["Condition"]


class AnyOf(BaseModel):
    model_config = _FROZEN
    any: list["Condition"]


Condition = Union[Clause, AllOf, AnyOf]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class Effect(BaseModel):
    model_config = _FROZEN
    favor: dict[str, float] = Field(default_factory=dict, description="Score change per method id (before grade weighting).")
    infeasible: list[str] = Field(default_factory=list, description="Methods this rule rules out (after loading: with the selector's matches).")
    infeasible_methods_with: dict[str, Any] = Field(default_factory=dict, description="Rule out every method whose methods.yaml entry has these values, e.g. {needs_weights: true}.")
    except_methods: list[str] = Field(default_factory=list, description="Methods the selector leaves feasible.")
    caveat: bool = Field(default=False, description="The rule's rationale is shown as a caveat.")


class RuleCases(BaseModel):
    model_config = _FROZEN
    fires: list[dict[str, Any]] = Field(min_length=1)
    does_not_fire: list[dict[str, Any]] = Field(min_length=1)


class Rule(BaseModel):
    model_config = _FROZEN
    id: str
    when: Condition
    effect: Effect
    rationale: str
    sources: list[str] = Field(min_length=1)
    contradicts: list[str] = Field(default_factory=list)
    contradicted_by: list[str] = Field(default_factory=list)
    cases: RuleCases
    file: str = ""


class MethodSpec(BaseModel):
    model_config = _FROZEN
    id: Method
    family: MethodFamily
    name: str
    summary: str
    prior_score: float
    needs_weights: bool
    needs_training: bool
    needs_cuda: bool = False
    min_examples: int
    same_evidence_as: Optional[str] = None
    extra_tokens_per_request: int = 0
    in_context_examples: int = 0
    virtual_tokens: int = 0
    lora_rank: int = 0
    task_types: list[str] = Field(default_factory=list, description="The only task types the method can serve (empty: all).")
    prior_sources: list[str]


class ModelShape(BaseModel):
    model_config = _FROZEN
    params_b: float
    hidden: int
    layers: int
    intermediate: int


class CostConstants(BaseModel):
    model_config = _FROZEN
    bytes_per_param: dict[str, float]
    trainable_bytes_per_param: float
    activation_bytes_per_token_per_hidden: float
    checkpointed_activation_bytes_per_token_per_hidden: float
    fixed_overhead_gib: float
    usable_memory_fraction: float
    feasibility_micro_batch: int
    full_finetune_flops_per_param_token: float
    frozen_base_flops_per_param_token: float
    reference_gpu_peak_tflops: float
    reference_model_flops_utilisation: float
    cpu_effective_tflops: float
    cpu_training_max_params_b: float
    default_epochs: int
    model_shapes: list[ModelShape]
    lora_attention_projections: int
    lora_mlp_projections: int
    gpu_peak_bf16_tflops: dict[str, float] = Field(default_factory=dict)


class Scoring(BaseModel):
    model_config = _FROZEN
    softmax_temperature: float = Field(gt=0)
    probe_weight: float
    probe_scale: float = Field(gt=0)
    probe_tie_margin: float = Field(ge=0)
    counterfactual_grid: dict[str, list[float]]


class KnowledgeBase(BaseModel):
    model_config = _FROZEN
    sources: dict[str, Source]
    grade_weights: dict[str, float]
    methods: dict[str, MethodSpec]
    rules: list[Rule]
    costs: CostConstants
    scoring: Scoring
    case_base: dict[str, Any]
    recipes: dict[str, dict[str, Any]]
    content_hash: str

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @cached_property
    def _rule_grades(self) -> dict[str, str]:
        return {
            rule.id: max((self.sources[s].grade for s in rule.sources), key=lambda g: self.grade_weights[g])
            for rule in self.rules
        }

    def rule_grade_weight(self, rule: Rule) -> float:
        """A rule counts as much as its best-graded source."""
        return self.grade_weights[self._rule_grades[rule.id]]

    def rule_grade(self, rule: Rule) -> str:
        return self._rule_grades[rule.id]


def default_knowledge_dir() -> Path:
    from knowledge import KNOWLEDGE_DIR

    return KNOWLEDGE_DIR


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"Knowledge file {path} is missing.") from None
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"Knowledge file {path} is not valid YAML: {error}") from None


def _suggest(name: str, choices: typing.Iterable[str]) -> str:
    close = get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _parse(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top)'}: {item['msg']} (got {item.get('input')!r})"
            for item in error.errors()
        )
        raise KnowledgeBaseError(f"{where} is malformed: {problems}") from None


def _enum_values(field_name: str) -> Optional[set[str]]:
    annotation = Situation.model_fields[field_name].annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return {member.value for member in candidate}
    return None


def _check_clause(clause: Clause, where: str) -> None:
    fields = Situation.model_fields
    if clause.field not in fields:
        raise KnowledgeBaseError(f"{where} references unknown field {clause.field!r}{_suggest(clause.field, fields)}")
    allowed = _enum_values(clause.field)
    values = clause.value if clause.op in ("in", "not_in") else [clause.value]
    if clause.op in ("in", "not_in") and not isinstance(clause.value, list):
        raise KnowledgeBaseError(f"{where}: operator {clause.op!r} on field {clause.field!r} needs a list value, got {clause.value!r}")
    if allowed is not None:
        for value in values:
            if value not in allowed:
                raise KnowledgeBaseError(
                    f"{where}: field {clause.field!r} must be one of {sorted(allowed)}, got {value!r}{_suggest(str(value), allowed)}"
                )
        if clause.op in ("lt", "le", "gt", "ge"):
            raise KnowledgeBaseError(f"{where}: operator {clause.op!r} cannot compare the categorical field {clause.field!r}")


def _walk(condition: Condition) -> typing.Iterator[Clause]:
    if isinstance(condition, Clause):
        yield condition
    else:
        for child in (condition.all if isinstance(condition, AllOf) else condition.any):
            yield from _walk(child)


def _check_rule(rule: Rule, kb_sources: dict[str, Source], methods: dict[str, MethodSpec], where: str) -> None:
    for clause in _walk(rule.when):
        _check_clause(clause, f"{where} rule {rule.id!r}")
    for source_id in rule.sources:
        if source_id not in kb_sources:
            raise KnowledgeBaseError(f"{where} rule {rule.id!r} cites unknown source {source_id!r}{_suggest(source_id, kb_sources)}")
    for method_id in [*rule.effect.favor, *rule.effect.infeasible]:
        if method_id not in methods:
            raise KnowledgeBaseError(f"{where} rule {rule.id!r} names unknown method {method_id!r}{_suggest(method_id, methods)}")
    for key in rule.effect.infeasible_methods_with:
        if key not in MethodSpec.model_fields:
            raise KnowledgeBaseError(f"{where} rule {rule.id!r}: infeasible_methods_with names unknown method property {key!r}{_suggest(key, MethodSpec.model_fields)}")
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


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_knowledge(directory: str | Path | None = None) -> KnowledgeBase:
    """Read every knowledge file, validate it and cross-check ids. Raises KnowledgeBaseError."""
    root = Path(directory) if directory is not None else default_knowledge_dir()
    sources_path, methods_path = root / "sources.yaml", root / "methods.yaml"
    sources_doc = _read_yaml(sources_path) or {}
    grade_weights = sources_doc.get("grade_weights", {})
    sources: dict[str, Source] = {}
    for index, raw in enumerate(sources_doc.get("sources", [])):
        source = _parse(Source, raw, f"{sources_path} entry {index}")
        if source.id in sources:
            raise KnowledgeBaseError(f"{sources_path}: duplicate source id {source.id!r}")
        sources[source.id] = source
    for grade in typing.get_args(Grade):
        if grade not in grade_weights:
            raise KnowledgeBaseError(f"{sources_path}: grade_weights lacks a weight for grade {grade!r}")

    methods: dict[str, MethodSpec] = {}
    for index, raw in enumerate((_read_yaml(methods_path) or {}).get("methods", [])):
        method = _parse(MethodSpec, raw, f"{methods_path} entry {index}")
        for source_id in method.prior_sources:
            if source_id not in sources:
                raise KnowledgeBaseError(f"{methods_path} method {method.id!r} cites unknown source {source_id!r}{_suggest(source_id, sources)}")
        for task_type in method.task_types:
            if task_type not in {t.value for t in TaskType}:
                raise KnowledgeBaseError(f"{methods_path} method {method.id.value!r}: unknown task type {task_type!r}")
        methods[method.id.value] = method
    missing_methods = {m.value for m in Method} - set(methods)
    if missing_methods:
        raise KnowledgeBaseError(f"{methods_path}: no entry for methods {sorted(missing_methods)} of the Method enum")
    for method in methods.values():
        if method.same_evidence_as and method.same_evidence_as not in methods:
            raise KnowledgeBaseError(f"{methods_path} method {method.id!r}: same_evidence_as names unknown method {method.same_evidence_as!r}")

    rule_files = sorted((root / "rules").glob("*.yaml"))
    if not rule_files:
        raise KnowledgeBaseError(f"No rule files found under {root / 'rules'}")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in rule_files:
        for index, raw in enumerate((_read_yaml(path) or {}).get("rules", [])):
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            rule = _parse(Rule, {**raw, "file": path.name} if isinstance(raw, dict) else raw, f"{path} rule {label!r}")
            if rule.id in seen:
                raise KnowledgeBaseError(f"{path}: rule id {rule.id!r} is already defined in {seen[rule.id]}")
            seen[rule.id] = path.name
            _check_rule(rule, sources, methods, str(path))
            rules.append(_expand_selector(rule, methods))
    for rule in rules:
        for other in [*rule.contradicts, *rule.contradicted_by]:
            if other not in seen:
                raise KnowledgeBaseError(f"{rule.file} rule {rule.id!r} refers to unknown rule {other!r}{_suggest(other, seen)}")

    costs = _parse(CostConstants, _read_yaml(root / "costs.yaml"), f"{root / 'costs.yaml'}")
    scoring = _parse(Scoring, _read_yaml(root / "scoring.yaml"), f"{root / 'scoring.yaml'}")
    case_base = _read_yaml(root / "case_base.yaml") or {}
    recipes_path = root / "recipes.yaml"
    recipes = (_read_yaml(recipes_path) or {}).get("recipes", {})
    for method_id, recipe in recipes.items():
        if method_id not in methods:
            raise KnowledgeBaseError(f"{recipes_path}: recipe for unknown method {method_id!r}{_suggest(method_id, methods)}")
        for source_id in recipe.get("sources", []):
            if source_id not in sources:
                raise KnowledgeBaseError(f"{recipes_path} recipe {method_id!r} cites unknown source {source_id!r}{_suggest(source_id, sources)}")
    missing = set(methods) - set(recipes)
    if missing:
        raise KnowledgeBaseError(f"{recipes_path}: no recipe for methods {sorted(missing)}")
    all_files = [sources_path, methods_path, recipes_path, root / "costs.yaml", root / "scoring.yaml", root / "case_base.yaml", *rule_files]
    return KnowledgeBase(
        sources=sources, grade_weights=grade_weights, methods=methods, rules=rules, costs=costs,
        scoring=scoring, case_base=case_base, recipes=recipes, content_hash=_hash_files(all_files),
    )


@lru_cache(maxsize=1)
def default_knowledge() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process (it is frozen, so safe to share)."""
    return load_knowledge()
