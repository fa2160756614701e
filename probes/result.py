"""Frozen records of probe trials (no torch import: the advisor reads these)."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

SUITE_SCHEMA_VERSION = "1.0.0"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ProbeStatus(str, Enum):
    COMPLETE = "complete"
    STOPPED = "stopped"
    OUT_OF_MEMORY = "out_of_memory"
    FAILED = "failed"


class CurvePoint(BaseModel):
    model_config = _FROZEN
    step: int
    examples_seen: int
    tokens_seen: int
    train_loss: Optional[float]
    eval_loss: Optional[float]
    eval_metric: float
    wall_time_s: float


class GenerationMetrics(BaseModel):
    """Greedy generations of one probed model, scored per example (aligned with example_ids) for paired comparison:
    exact match, ROUGE-L F1 and completion loss (mean NLL per reference token). See probes.decoder.generation_metrics."""

    model_config = _FROZEN
    example_ids: list[int]
    exact_match: list[float]
    rouge_l: list[float]
    completion_loss: list[float]
    max_new_tokens: list[int]
    samples: list[str] = Field(default_factory=list, description="The first few generations, for reading.")

    @model_validator(mode="before")
    @classmethod
    def _ignore_computed_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("mean_exact_match", "mean_rouge_l", "mean_completion_loss")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_exact_match(self) -> Optional[float]:
        return round(sum(self.exact_match) / len(self.exact_match), 5) if self.exact_match else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_rouge_l(self) -> Optional[float]:
        return round(sum(self.rouge_l) / len(self.rouge_l), 5) if self.rouge_l else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_completion_loss(self) -> Optional[float]:
        finite = [v for v in self.completion_loss if v == v and abs(v) != float("inf")]
        return round(sum(finite) / len(finite), 5) if finite else None


class TrialResult(BaseModel):
    """One finished (or failed) training trial: one method, learning rate and data fraction."""

    model_config = _FROZEN
    trial_id: str
    method: str = Field(description="frozen_baseline, linear_probe, prompt_tuning, lora or full_finetune.")
    phase: str = Field(description="'baseline', 'reference', 'lr_sweep' or 'curve'.")
    learning_rate: Optional[float]
    data_fraction: float
    n_train_examples: int
    n_eval_examples: int
    seed: int
    status: ProbeStatus
    message: str = ""
    curve: list[CurvePoint] = Field(default_factory=list)
    wall_time_s: float = 0.0
    tokens_seen: int = 0
    peak_memory_gib: Optional[float] = None
    trainable_params: int = 0
    total_params: int = 0
    adapter_size_mib: Optional[float] = None
    config: dict[str, Any] = Field(default_factory=dict)
    generation: Optional[GenerationMetrics] = Field(default=None, description="Generation data: scored greedy generations.")

    @model_validator(mode="before")
    @classmethod
    def _ignore_computed_fields(cls, data: Any) -> Any:
        """Computed fields appear in the JSON for readers; drop them when reading it back."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("final_metric", "best_metric", "tokens_per_s")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def final_metric(self) -> Optional[float]:
        return self.curve[-1].eval_metric if self.curve else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def best_metric(self) -> Optional[float]:
        return max(p.eval_metric for p in self.curve) if self.curve else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens_per_s(self) -> Optional[float]:
        return round(self.tokens_seen / self.wall_time_s, 2) if self.wall_time_s > 0 and self.tokens_seen else None


class DataProfile(BaseModel):
    model_config = _FROZEN
    n_rows: int
    n_train: int
    n_eval: int
    task_kind: str
    label_counts: dict[str, int] = Field(default_factory=dict)
    token_length_p50: float
    token_length_p90: float
    token_length_p99: float
    n_duplicates: int
    n_train_eval_overlap: int
    n_dropped_rows: int = 0
    warnings: list[str] = Field(default_factory=list)


class SuiteResult(BaseModel):
    """Everything one probe suite measured; the advisor's fusion step reads this."""

    model_config = _FROZEN
    schema_version: str = SUITE_SCHEMA_VERSION
    task_kind: str = Field(description="'classification' or 'generation'.")
    metric_name: str = Field(description="'accuracy' (classification) or 'token_accuracy' (generation).")
    model: str
    device: str
    gpu_memory_gb: float = Field(default=0.0, description="Memory of the probe machine's first GPU in GB (0: CPU only).")
    probed_model_params_b: float = Field(default=0.0, description="Parameters of the model the probes ran on, in billions. "
                                         "When the user's target model differs, the evidence was measured on a proxy.")
    model_architecture: str = Field(default="", description="'decoder' (causal LM) or 'encoder': the probed model's architecture.")
    data_profile: DataProfile
    trials: list[TrialResult]
    selected_learning_rates: dict[str, float] = Field(default_factory=dict)
    budget_minutes: float
    wall_time_s: float
    package_versions: dict[str, str] = Field(default_factory=dict)
    cache_key: str = ""

    def curve_trials(self, method: str) -> list[TrialResult]:
        """The data-fraction trials of one method at its selected learning rate, smallest fraction first."""
        return sorted(
            (t for t in self.trials if t.method == method and t.phase == "curve"),
            key=lambda t: t.data_fraction,
        )

    def baseline(self) -> Optional[TrialResult]:
        """The no-training reference (zero-shot)."""
        return next((t for t in self.trials if t.method in ("zero_shot", "frozen_baseline")), None)

    def linear_probe(self) -> Optional[TrialResult]:
        """Logistic regression on frozen features (classification only)."""
        return next((t for t in self.trials if t.method == "linear_probe"), None)

    def probed_methods(self) -> list[str]:
        seen: list[str] = []
        for trial in self.trials:
            if trial.phase == "curve" and trial.method not in seen:
                seen.append(trial.method)
        return seen

    # -- whether a suite may be stored as a result (probes.store) --------------------------------------------------

    def unfinished_trials(self) -> list[TrialResult]:
        """Trials that failed, ran out of memory or were cancelled by the user: they measured the machine or the
        moment, not the methods, so a suite holding one is not a result to reuse."""
        return [t for t in self.trials if t.status in (ProbeStatus.FAILED, ProbeStatus.OUT_OF_MEMORY)
                or (t.status == ProbeStatus.STOPPED and t.message.startswith("cancelled"))]

    def is_cacheable(self) -> bool:
        """True when every trial ended on its own terms (complete, or stopped by a budget or a stop rule)."""
        return bool(self.trials) and not self.unfinished_trials()
