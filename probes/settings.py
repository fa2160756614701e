"""Probe settings read from knowledge/probes.yaml (numbers live in knowledge/, not in code)."""
from __future__ import annotations

from functools import lru_cache

import yaml
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge import KNOWLEDGE_DIR


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class EvaluationSettings(BaseModel):
    model_config = _FROZEN
    fraction: float = Field(gt=0, lt=1)
    min_examples: int = Field(ge=1)
    max_examples: int = Field(ge=1)
    assumed_discordance: float = Field(gt=0, le=1)
    curve_eval_examples: int = Field(ge=1)
    kfold_below_rows: int = Field(ge=0)
    kfold_folds: int = Field(ge=2)
    kfold_max_repeats: int = Field(ge=1)
    min_rows: int = Field(ge=4)


class PlanSettings(BaseModel):
    model_config = _FROZEN
    method_weights: dict[str, float]
    sweep_steps: int = Field(ge=1)
    min_main_steps: int = Field(ge=1)
    default_learning_rate: dict[str, float]
    converged_epochs: dict[str, float]
    size_fractions: list[float]
    min_size_trial_examples: int = Field(ge=1)
    target_epochs: float = Field(gt=0)
    default_methods: list[str]
    max_params_b_to_probe: dict[str, dict[str, float]]
    calibration_steps: int = Field(ge=1)
    overrun_tolerance: float = Field(ge=0)
    evaluation_time_share: float = Field(ge=0, lt=1)


class LinearProbeSettings(BaseModel):
    model_config = _FROZEN
    c_grid: list[float] = Field(min_length=1)
    cv_folds: int = Field(ge=2)
    max_iter: int = Field(ge=10)
    max_train_examples: int = Field(ge=2)
    min_train_examples: int = Field(ge=2)
    budget_share: float = Field(gt=0, lt=1)
    max_classes_for_cv: int = Field(ge=2)
    curve_fractions: list[float]


class ProbeSettings(BaseModel):
    """knowledge/probes.yaml, typed: every number the probes use, with its reason in the YAML."""

    model_config = _FROZEN
    learning_rate_grids: dict[str, list[float]]
    head_learning_rate: float
    warmup_steps: int = Field(ge=0)
    max_grad_norm: float
    schedule: dict[str, Literal["constant", "linear"]]
    eval_step_grid: list[int]
    lr_tie_standard_errors: float
    virtual_tokens: dict[str, int]
    lora: dict[str, float]
    batch_size: dict[str, int]
    max_length_tokens: int
    min_train_examples: int
    evaluation: EvaluationSettings
    plan: PlanSettings
    linear_probe: LinearProbeSettings
    divergence_loss_ratio: float
    decoder: dict = {}  # the decoder block, typed by probes.decoder.settings.DecoderSettings

    @model_validator(mode="after")
    def _grid_sorted(self) -> "ProbeSettings":
        if self.eval_step_grid != sorted(set(self.eval_step_grid)) or self.eval_step_grid[0] < 1:
            raise ValueError(f"eval_step_grid must be increasing positive step counts, got {self.eval_step_grid}")
        return self


@lru_cache(maxsize=1)
def probe_settings() -> ProbeSettings:
    return ProbeSettings.model_validate(yaml.safe_load((KNOWLEDGE_DIR / "probes.yaml").read_text(encoding="utf-8")))
