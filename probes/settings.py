"""Probe settings read from knowledge/probes.yaml (numbers live in knowledge/, not in code)."""
from __future__ import annotations

from functools import lru_cache

import yaml
from typing import Literal

from pydantic import BaseModel, ConfigDict

from knowledge import KNOWLEDGE_DIR


class ProbeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    learning_rate_grids: dict[str, list[float]]
    head_learning_rate: float
    warmup_fraction: float
    warmup_steps: int
    eval_step_grid: list[int]
    max_grad_norm: float
    schedule: dict[str, Literal["constant", "linear"]]
    lr_tie_standard_errors: float
    virtual_tokens: dict[str, int]
    lora: dict[str, float]
    full_finetune_max_params_b: dict[str, float]
    batch_size: dict[str, int]
    max_length_tokens: int
    eval_fraction: float
    eval_min_examples: int
    eval_max_examples: int
    sweep_eval_examples: int
    min_train_examples: int
    data_fractions: list[float]
    sweep_budget_share: float
    sweep_steps: int
    curve_epochs_min: float
    curve_epochs_max: float
    eval_points_per_trial: int
    divergence_loss_ratio: float
    decoder: dict = {}  # the decoder block, typed by probes.decoder.settings.DecoderSettings


@lru_cache(maxsize=1)
def probe_settings() -> ProbeSettings:
    return ProbeSettings.model_validate(yaml.safe_load((KNOWLEDGE_DIR / "probes.yaml").read_text(encoding="utf-8")))
