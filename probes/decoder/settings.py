"""Typed view of the ``decoder:`` block of knowledge/probes.yaml (numbers live there, with their reasons)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class FewShotSettings(BaseModel):
    model_config = _FROZEN
    max_prompt_tokens: int = Field(gt=0)
    max_prompt_tokens_latency_sensitive: int = Field(gt=0)
    max_per_label: int = Field(ge=1)
    max_demonstration_tokens: int = Field(gt=0)
    seed: int


class GenerationSettings(BaseModel):
    model_config = _FROZEN
    max_examples: int = Field(ge=1)
    max_new_tokens: int = Field(ge=1)
    reference_length_factor: float = Field(gt=0)
    batch_size: int = Field(ge=1)


class DecoderSettings(BaseModel):
    model_config = _FROZEN
    classification_scoring: Literal["label_likelihood", "sequence_classification_head"]
    label_score_normalisation: Literal["mean", "sum"]
    instruction: str
    query_template: str
    label_template: str
    demonstration_separator: str
    max_text_tokens: int = Field(gt=0)
    score_batch_size: int = Field(ge=1)
    few_shot: FewShotSettings
    generation: GenerationSettings


def decoder_settings(settings: Optional[object] = None) -> DecoderSettings:
    """The decoder settings from a ProbeSettings (default: knowledge/probes.yaml)."""
    if settings is None:
        from probes.settings import probe_settings

        settings = probe_settings()
    return DecoderSettings.model_validate(settings.decoder)
