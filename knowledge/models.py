"""Typed models of the knowledge files (frozen pydantic): sources, rules, methods, costs, scoring.

The loader (knowledge.loader) builds a KnowledgeBase from knowledge/*.yaml; every model forbids unknown fields.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from knowledge.method import Method, MethodFamily

Grade = Literal["peer-reviewed", "vendor-guidance", "rule-of-thumb"]
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
    task_types: list[str] = Field(default_factory=list, description="The only task types the method can serve (empty: all).")
    prior_sources: list[str]


class ModelShape(BaseModel):
    model_config = _FROZEN
    params_b: float
    hidden: int
    layers: int
    intermediate: int
    kv_hidden: Optional[int] = Field(default=None, description="Width of the key/value projections (grouped-query attention); None: = hidden.")
    vocab: int = Field(default=0, ge=0, description="Vocabulary size (0: unknown, costs.yaml default_vocab is used).")


class OptimizerBytes(BaseModel):
    """GPU bytes per trainable parameter that an optimizer setting keeps: the trained weights, their gradients, its state."""

    model_config = _FROZEN
    weight: float
    gradient: float
    state: float
    needs_cuda: bool = False


class FeasibilityFallback(BaseModel):
    """One change to a recipe's training assumptions, tried in order when the recipe does not fit."""

    model_config = _FROZEN
    label: str
    change: dict[str, Any]
    makes_feasible: bool = Field(description="False: only named in the reason as what would make it fit (e.g. CPU offload, far slower).")


class CostConstants(BaseModel):
    model_config = _FROZEN
    bytes_per_param: dict[str, float]
    optimizers: dict[str, OptimizerBytes]
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
    logits_bytes_per_token_per_vocab: float
    default_vocab: int
    dora_saved_bytes_per_output_feature: float
    method_time_factors: dict[str, float] = Field(default_factory=dict)
    gpu_memory_unit_bytes: float
    feasibility_fallbacks: list[FeasibilityFallback]
    gpu_peak_bf16_tflops: dict[str, float] = Field(default_factory=dict)


class Scoring(BaseModel):
    model_config = _FROZEN
    softmax_temperature: float = Field(gt=0)
    probe_tie_margin: float = Field(ge=0)
    counterfactual_grid: dict[str, list[float]]
    accuracy_points_per_score_unit: float = Field(gt=0, description="How many accuracy points one unit of rule score stands for.")
    quality_rule_files: list[str] = Field(description="Rule files whose rules predict quality; measurements on the target model supersede them for the methods they measured.")
    decision_tolerance: float = Field(gt=0, description="The pick is 'right' when within this much (0-1 accuracy) of the best method.")
    conclusive_probability: float = Field(gt=0, lt=1)
    cost_tie_margin: float = Field(ge=0, description="Methods predicted within this much of the best are ranked by cost.")
    proxy_size_ratio: float = Field(gt=1)
    proxy_evidence_weight: float = Field(ge=0, le=1)
    monte_carlo_samples: int = Field(ge=100)
    rules_prior_sd: float = Field(gt=0, description="How far a rule-derived gap between two methods misses, in accuracy (0-1).")
    decision_sd_scale: float = Field(default=1.0, ge=1.0, description="Factor on each full-length prediction's sd in the decision's Monte Carlo draws (calibrates the confidence; not the weights or the intervals shown).")
    sibling_prior_sd: float = Field(gt=0, description="The same for evidence siblings (LoRA and its variants).")


class TrainedConvergence(BaseModel):
    """One trained method's gain model: predicted = measured + max(0, sum(coefficient * feature))."""

    model_config = _FROZEN
    min_epochs: float = Field(ge=0)
    coefficients: dict[str, float]
    residual_sd_by_epochs: list[tuple[float, float]] = Field(min_length=1, description="[max epochs, residual sd] rows.")
    n_fit_points: int = 0
    cv_rmse: Optional[float] = None


class ConvergenceModel(BaseModel):
    """knowledge/convergence.yaml: how a probe's measurement becomes a prediction of a full-length run."""

    model_config = _FROZEN
    fitted_on: str
    interval_scale: float = Field(gt=0)
    untrained_methods: list[str]
    data_size_exponent: dict[str, float]
    linear_probe_residual_sd: float = Field(ge=0)
    anchors: dict[str, list[str]] = Field(default_factory=dict, description="An unmeasured method is estimated from the "
                                          "first measured method in its list (and uses that method's model if it has none).")
    trained: dict[str, TrainedConvergence]
    fitted_target_sizes: list[int] = Field(default_factory=list, description="The labelled-data sizes of the ground "
                                           "truth the trained methods' models were fitted on (empty: not fitted).")
    extrapolation_sd_per_doubling: float = Field(ge=0, default=0.02, description="Extra predictive sd per doubling "
                                                 "of the target size beyond twice the largest fitted size.")


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
    convergence: ConvergenceModel
    probe_settings: dict[str, Any] = Field(default_factory=dict, description="knowledge/probes.yaml, validated by probes.settings.ProbeSettings.")
    content_hash: str = Field(description="Hash of every YAML file under knowledge/, probe settings included.")

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
