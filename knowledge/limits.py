"""Input limits (knowledge/limits.yaml) as a typed, frozen model: file sizes, YAML alias/depth limits, echo length."""
from __future__ import annotations

from functools import lru_cache

import yaml
from pydantic import BaseModel, ConfigDict, Field

from knowledge import KNOWLEDGE_DIR
from knowledge.errors import KnowledgeBaseError


class InputLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    situation_file_max_bytes: int = Field(gt=0)
    probe_results_max_bytes: int = Field(gt=0)
    data_file_max_bytes: int = Field(gt=0)
    yaml_max_aliases: int = Field(ge=0)
    yaml_max_depth: int = Field(ge=1)
    max_value_echo_chars: int = Field(ge=10)
    missing_label_tokens: list[str]


@lru_cache(maxsize=1)
def input_limits() -> InputLimits:
    path = KNOWLEDGE_DIR / "limits.yaml"
    try:
        return InputLimits.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as error:
        raise KnowledgeBaseError(f"Knowledge file {path} is invalid: {error}") from None
