"""Frozen records of probe trials (no torch import: the advisor reads these)."""
from __future__ import annotations

import base64
from enum import Enum
from typing import Any, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from knowledge.method import Method

SUITE_SCHEMA_VERSION = "2.0.0"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ProbeStatus(str, Enum):
    COMPLETE = "complete"
    STOPPED = "stopped"
    OUT_OF_MEMORY = "out_of_memory"
    FAILED = "failed"


class Phase(str, Enum):
    """What a trial is for."""

    BASELINE = "baseline"     # nothing trained: zero-shot, few-shot prompting
    REFERENCE = "reference"   # a trained head on frozen features (linear probe)
    LR_SWEEP = "lr_sweep"     # a short run at one learning rate of the method's grid
    CURVE = "curve"           # the method at its chosen learning rate (one data size)
    FOLD = "fold"             # one cross-validation fold (tiny data)

    def __str__(self) -> str:
        return self.value


class ProgressEvent(str, Enum):
    """Events a running suite reports to its progress callback."""

    PLAN = "plan"    # the total number of steps, known from the start
    PHASE = "phase"  # a new stage begins
    STEP = "step"    # one optimiser step done
    TRIAL = "trial"  # one trial finished (its TrialResult)

    def __str__(self) -> str:
        return self.value


def pack_correct(correct: Sequence[bool]) -> str:
    """Per-example correctness as base64 of packed bits, most significant bit first (numpy.packbits order)."""
    data = bytearray((len(correct) + 7) // 8)
    for i, ok in enumerate(correct):
        if ok:
            data[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(data)).decode("ascii")


def unpack_correct(text: str, n: int) -> list[bool]:
    data = base64.b64decode(text)
    if len(data) * 8 < n:
        raise ValueError(f"correctness bits hold {len(data) * 8} examples, expected {n}")
    return [bool(data[i // 8] & (0x80 >> (i % 8))) for i in range(n)]


class CurvePoint(BaseModel):
    model_config = _FROZEN
    step: int
    examples_seen: int
    tokens_seen: int
    train_loss: Optional[float]
    eval_loss: Optional[float]
    eval_metric: float
    wall_time_s: float
    n_eval_examples: Optional[int] = Field(default=None, description="How many evaluation examples this point scored: "
                                           "the trial's whole evaluation set at its last point, a fixed random subset "
                                           "(the first ones) at earlier points.")
    correct_bits: Optional[str] = Field(default=None, description="Classification: per-example correctness (base64 of "
                                        "packed bits) aligned with the trial's evaluation examples, for paired comparisons.")
    example_scores: Optional[list[float]] = Field(default=None, description="Generation: per-example metric (token "
                                                  "accuracy of each completion), aligned with the evaluation examples.")

    def per_example(self) -> Optional[list[float]]:
        """The metric of each evaluated example (1/0 for classification), or None when not recorded."""
        if self.example_scores is not None:
            return list(self.example_scores)
        if self.correct_bits is not None and self.n_eval_examples:
            return [1.0 if ok else 0.0 for ok in unpack_correct(self.correct_bits, self.n_eval_examples)]
        return None


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
    method: str = Field(description="A knowledge.method.Method value: zero_shot, few_shot, linear_probe, prompt_tuning, lora, "
                        "full_finetune, ...")
    phase: Phase
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
    eval_example_ids: Optional[list[int]] = Field(default=None, description="Dataset rows this trial was evaluated on, "
                                                  "when they differ from the suite's (cross-validation folds).")
    fold: Optional[int] = Field(default=None, description="Cross-validation: the fold index (its examples were held out).")
    repeat: Optional[int] = Field(default=None, description="Cross-validation: the repetition (a new random partition).")

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


class EvaluationDesign(BaseModel):
    """How the methods were scored: one held-out split, or repeated k-fold cross-validation for tiny data sets.
    Every method is scored on the same examples, so differences between methods are paired."""

    model_config = _FROZEN
    kind: str = Field(description="'holdout' (one stratified evaluation split) or 'kfold' (repeated stratified k-fold).")
    n_eval_examples: int = Field(description="Examples each method is scored on (k-fold: every example, once per repeat).")
    n_train_examples: int = Field(description="Examples each trained method learns from (k-fold: per fold).")
    n_folds: int = 1
    n_repeats: int = 1
    curve_eval_examples: int = Field(description="Examples scored at intermediate curve points (a fixed random subset); "
                                     "the last point of every trial scores all of them.")
    resolvable_difference: float = Field(description="Smallest accuracy difference between two methods this evaluation "
                                         "can tell from zero (95% paired interval, assuming 15% of examples on which "
                                         "exactly one of the two is right).")
    note: str = ""


class SuiteResult(BaseModel):
    """Everything one probe suite measured; the advisor's fusion step reads this."""

    model_config = _FROZEN
    schema_version: str = SUITE_SCHEMA_VERSION
    task_kind: str = Field(description="'classification' or 'generation'.")
    metric_name: str = Field(description="'accuracy' (classification) or 'token_accuracy' (generation: mean over "
                             "examples of each completion's next-token accuracy).")
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
    budget_steps: Optional[int] = Field(default=None, description="The step budget, when the suite was given one "
                                        "(tests, benchmarks); otherwise the minutes budget was turned into steps once.")
    planned_steps: int = Field(default=0, description="Training steps the suite planned from the start (its progress total).")
    steps_done: int = Field(default=0, description="Training steps it ran.")
    seconds_per_step: dict[str, float] = Field(default_factory=dict, description="Measured training seconds per step, per method.")
    evaluation: Optional[EvaluationDesign] = None
    eval_example_ids: list[int] = Field(default_factory=list, description="Dataset rows of the evaluation split, in the "
                                        "order every trial's per-example results follow.")
    cancelled: bool = False
    wall_time_s: float
    package_versions: dict[str, str] = Field(default_factory=dict)
    cache_key: str = ""

    def curve_trials(self, method: str) -> list[TrialResult]:
        """The data-size trials of one method at its selected learning rate, smallest first."""
        return sorted((t for t in self.trials if t.method == method and t.phase == Phase.CURVE),
                      key=lambda t: t.n_train_examples)

    def fold_trials(self, method: str) -> list[TrialResult]:
        return [t for t in self.trials if t.method == method and t.phase == Phase.FOLD]

    def baseline(self) -> Optional[TrialResult]:
        """The no-training reference (zero-shot)."""
        return next((t for t in self.trials if t.method == Method.ZERO_SHOT and t.fold is None), None)

    def linear_probe(self) -> Optional[TrialResult]:
        """Logistic regression on frozen features (classification only)."""
        return next((t for t in self.trials if t.method == Method.LINEAR_PROBE and t.fold is None), None)

    def probed_methods(self) -> list[str]:
        """Every method with at least one trial, in the order they were run."""
        seen: list[str] = []
        for trial in self.trials:
            if trial.method not in seen:
                seen.append(trial.method)
        return seen

    def trials_of(self, method: str) -> list[TrialResult]:
        return [t for t in self.trials if t.method == method]

    # -- whether a suite may be stored as a result (probes.store) --------------------------------------------------

    def unfinished_trials(self) -> list[TrialResult]:
        """Trials that failed, ran out of memory or were cancelled by the user: they measured the machine or the
        moment, not the methods, so a suite holding one is not a result to reuse."""
        return [t for t in self.trials if t.status in (ProbeStatus.FAILED, ProbeStatus.OUT_OF_MEMORY)
                or (t.status == ProbeStatus.STOPPED and t.message.startswith("cancelled"))]

    def is_cacheable(self) -> bool:
        """True when every trial ended on its own terms (complete, or stopped by a budget or a stop rule)."""
        return bool(self.trials) and not self.cancelled and not self.unfinished_trials()
