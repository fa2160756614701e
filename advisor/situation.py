"""The user's situation: task, data, model, resources and requirements."""
from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from advisor.errors import SituationError
from knowledge.userfiles import short


class TaskType(str, Enum):
    CLASSIFICATION = "classification"
    SEQUENCE_LABELING = "sequence_labeling"
    EXTRACTION = "extraction"
    QA = "qa"
    SUMMARIZATION = "summarization"
    TRANSLATION = "translation"
    GENERATION = "generation"
    INSTRUCTION_FOLLOWING = "instruction_following"
    CODE = "code"


class ModelAccess(str, Enum):
    OPEN_WEIGHTS = "open_weights"
    API_FINETUNE = "api_finetune"
    API_ONLY = "api_only"


class ModelArchitecture(str, Enum):
    DECODER = "decoder"
    ENCODER = "encoder"
    ENCODER_DECODER = "encoder_decoder"


class Level(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ChangeCadence(str, Enum):
    RARELY = "rarely"
    MONTHLY = "monthly"
    WEEKLY = "weekly"


class UpdateFrequency(str, Enum):
    RARELY = "rarely"
    OFTEN = "often"


class Priority(str, Enum):
    BALANCED = "balanced"
    QUALITY = "quality"
    COST = "cost"
    LATENCY = "latency"


class Situation(BaseModel):
    """Everything the advisor needs to know about one adaptation decision."""

    # allow_inf_nan=False: NaN or infinity in any float field is an error (JSON cannot carry them; inf became null)
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, allow_inf_nan=False)

    task_type: TaskType = Field(description="What the model must do: classification, sequence_labeling, extraction, qa, summarization, translation, generation, instruction_following or code.")
    n_labeled_examples: int = Field(ge=0, le=1_000_000_000, description="How many labelled examples (input + desired output) you have for this task.")
    model_params_b: float = Field(gt=0, le=10_000, description="Size of the base model in billions of parameters (e.g. 0.135 for SmolLM2-135M, 7 for Llama-2-7B).")
    model_architecture: ModelArchitecture = Field(default=ModelArchitecture.DECODER, description="decoder: a generative decoder-only LM (GPT, Llama, SmolLM); encoder: an encoder-only model (BERT, RoBERTa, MiniLM), which cannot follow instructions or learn from examples in its context; encoder_decoder: a sequence-to-sequence model (T5, BART). Left out, it is read from model_name when the id names a known family (knowledge/architectures.yaml), else decoder.")
    model_access: ModelAccess = Field(default=ModelAccess.OPEN_WEIGHTS, description="open_weights: you can load the weights yourself; api_finetune: a vendor API with a fine-tuning endpoint; api_only: a vendor API you can only prompt.")
    model_name: Optional[str] = Field(default=None, description="Optional Hugging Face model id or local directory; its config (no weights) sharpens the cost estimates.")
    gpu_memory_gb: float = Field(default=24.0, ge=0, le=10_000, description="Memory of one GPU in GB (0 if you have no GPU).")
    n_gpus: int = Field(default=1, ge=0, le=100_000, description="How many such GPUs you can use for training.")
    n_tasks: int = Field(default=1, ge=1, le=1_000_000, description="How many distinct tasks you will serve from the same base model.")
    seq_len_tokens: int = Field(default=512, ge=8, le=1_000_000, description="Typical length of one training example in tokens (input + output).")
    strict_consistency: bool = Field(default=False, description="Outputs must be predictable and repeatable (regulated, compliance or high-stakes use).")
    forgetting_sensitivity: Level = Field(default=Level.MEDIUM, description="How much it matters that the model keeps its general abilities (high: the same model also serves other uses).")
    latency_sensitive: bool = Field(default=False, description="Requests have a tight latency budget, so extra prompt tokens per request hurt.")
    requirements_change: ChangeCadence = Field(default=ChangeCadence.RARELY, description="How often the task definition or desired behaviour changes: rarely, monthly or weekly.")
    base_model_updates: UpdateFrequency = Field(default=UpdateFrequency.RARELY, description="How often you expect to move to a new base-model version: rarely or often.")
    data_on_premises_only: bool = Field(default=False, description="Your data may not leave your own machines (privacy, contract or regulation).")
    needs_domain_knowledge: bool = Field(default=False, description="The task needs knowledge the base model lacks (new domain vocabulary or facts), not just a behaviour or format.")
    continued_pretraining: bool = Field(default=False, description="The data is unlabelled domain text for continued pretraining (next-token prediction on documents; count documents as examples), not input/output pairs for supervised or instruction tuning.")
    compute_budget: Level = Field(default=Level.MEDIUM, description="Compute budget for adaptation: low, medium or high.")
    deadline_days: Optional[float] = Field(default=None, ge=0, description="Days until this must ship (leave empty if there is no hard deadline).")
    interpretability_required: bool = Field(default=False, description="Reviewers must be able to read and audit how the model is steered.")
    priority: Priority = Field(default=Priority.BALANCED, description="What to optimise when methods are close: balanced, quality, cost or latency.")

    @model_validator(mode="before")
    @classmethod
    def _architecture_from_model_name(cls, data: Any) -> Any:
        """A named model whose id says its family (bert, t5, ...) sets model_architecture when none is given."""
        if isinstance(data, dict) and data.get("model_name") and "model_architecture" not in data:
            inferred = architecture_from_model_name(str(data["model_name"]))
            if inferred is not None:
                return {**data, "model_architecture": inferred}
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _text_must_be_encodable(cls, value: Any) -> Any:
        """Strings must be valid Unicode (a lone surrogate, e.g. from undecodable command-line bytes, cannot be
        written to a UTF-8 JSON report)."""
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(f"must be valid UTF-8 text; character {error.start} is an undecodable byte or a lone "
                                 f"surrogate ({short(value[error.start:error.end])})") from None
        return value

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Help text for every field, for UIs and CLI --help (one source of truth)."""
        return {name: (info.description or "") for name, info in cls.model_fields.items()}


@lru_cache(maxsize=1)
def _architecture_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    import yaml

    from knowledge import KNOWLEDGE_DIR

    document = yaml.safe_load((KNOWLEDGE_DIR / "architectures.yaml").read_text(encoding="utf-8")) or {}
    return tuple((item["architecture"], re.compile(item["regex"], re.IGNORECASE)) for item in document.get("patterns", []))


def architecture_from_model_name(model_name: str) -> Optional[ModelArchitecture]:
    """The architecture a model id names (knowledge/architectures.yaml), or None when the id does not say."""
    for architecture, pattern in _architecture_patterns():
        if pattern.search(model_name):
            return ModelArchitecture(architecture)
    return None


def _format_validation_error(error: ValidationError, where: str) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(situation)"
        given = item.get("input")
        if item["type"] == "extra_forbidden":
            from difflib import get_close_matches

            close = get_close_matches(field, list(Situation.model_fields), n=1) if len(field) <= 100 else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"unknown field {short(field)}{hint} (value {short(given)})")
            continue
        if item["type"] == "missing":
            lines.append(f"field {field!r} is required: {Situation.model_fields[field].description}")
            continue
        allowed = item["msg"]
        lines.append(f"field {field!r}: {allowed}. Got {short(given)} instead.")
    return f"Invalid situation ({where}):\n  - " + "\n  - ".join(lines)


def make_situation(values: dict[str, Any], where: str = "input") -> Situation:
    """Validate a plain dict into a Situation, raising SituationError with a readable message."""
    if not isinstance(values, dict):
        raise SituationError(f"Invalid situation ({where}): expected a mapping of field names to values, got {type(values).__name__} {short(values)}.")
    try:
        return Situation.model_validate(values)
    except ValidationError as error:
        raise SituationError(_format_validation_error(error, where)) from None


def load_situation(path: str | Path) -> Situation:
    """Read a situation from a YAML or JSON file (size, alias and depth limits from knowledge/limits.yaml)."""
    from knowledge.limits import input_limits
    from knowledge.userfiles import decode_user_text, parse_user_yaml, read_user_bytes

    what = f"Situation file {short(str(path))}"
    data = read_user_bytes(path, "Situation file", input_limits().situation_file_max_bytes, SituationError)
    values = parse_user_yaml(decode_user_text(data, what, SituationError), what, SituationError)
    return make_situation(values, where=str(path))
