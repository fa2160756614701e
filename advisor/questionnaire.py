"""Questions for the UI, built from the Situation fields (labels here; help text from Field descriptions)."""
from __future__ import annotations

import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from advisor.situation import Situation, make_situation

# Short labels for the questionnaire; the help text always comes from Situation's field descriptions.
LABELS = {
    "task_type": "What is the task?",
    "n_labeled_examples": "How many labelled examples do you have?",
    "model_params_b": "Base model size (billions of parameters)",
    "model_access": "How do you reach the model?",
    "model_name": "Model id or local path (optional)",
    "gpu_memory_gb": "GPU memory per GPU (GB, 0 = no GPU)",
    "n_gpus": "Number of GPUs",
    "n_tasks": "Tasks served from one base model",
    "seq_len_tokens": "Typical example length (tokens)",
    "strict_consistency": "Strict consistency / compliance",
    "forgetting_sensitivity": "Must the model keep its general abilities?",
    "latency_sensitive": "Latency-sensitive serving",
    "requirements_change": "How often do requirements change?",
    "base_model_updates": "How often will you change base model?",
    "data_on_premises_only": "Data must stay on premises",
    "needs_domain_knowledge": "Needs new domain knowledge",
    "compute_budget": "Compute budget",
    "deadline_days": "Deadline in days (0 = none)",
    "interpretability_required": "Steering must be human-readable",
    "priority": "When methods are close, prefer",
}
# Human labels for choice answers (the stored values stay the Situation's enum values).
OPTION_LABELS: dict[str, dict[str, str]] = {
    "task_type": {"classification": "Classification", "sequence_labeling": "Sequence labelling (e.g. named entities)",
                  "extraction": "Information extraction", "qa": "Question answering", "summarization": "Summarisation",
                  "translation": "Translation", "generation": "Text generation",
                  "instruction_following": "Instruction following", "code": "Code"},
    "model_access": {"open_weights": "I have the weights (open model)", "api_finetune": "Vendor API with fine-tuning",
                     "api_only": "Vendor API, prompting only"},
    "forgetting_sensitivity": {"low": "Low", "medium": "Medium", "high": "High"},
    "compute_budget": {"low": "Low", "medium": "Medium", "high": "High"},
    "requirements_change": {"rarely": "Rarely", "monthly": "Monthly", "weekly": "Weekly"},
    "base_model_updates": {"rarely": "Rarely", "often": "Often"},
    "priority": {"balanced": "Balanced", "quality": "Quality", "cost": "Cost", "latency": "Latency"},
}
ESSENTIAL = ("task_type", "n_labeled_examples", "model_params_b", "model_access", "gpu_memory_gb", "n_gpus", "n_tasks")


@dataclass(frozen=True)
class Question:
    field: str
    label: str
    help: str
    kind: str  # "choice", "int", "float", "bool", "text"
    options: tuple[str, ...] = ()
    default: Any = None
    essential: bool = False


def _kind(annotation) -> tuple[str, tuple[str, ...]]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = args[0]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "choice", tuple(m.value for m in kind)
    return {bool: "bool", int: "int", float: "float"}.get(kind, "text"), ()


def questions() -> list[Question]:
    result = []
    for name, info in Situation.model_fields.items():
        kind, options = _kind(info.annotation)
        default = info.default if info.default is not None and not callable(info.default) else None
        if isinstance(default, Enum):
            default = default.value
        if str(default) == "PydanticUndefined":
            default = None
        result.append(Question(field=name, label=LABELS.get(name, name), help=info.description or "", kind=kind,
                               options=options, default=default, essential=name in ESSENTIAL))
    return result


def option_label(field: str, value: Any) -> str:
    """The human label of one answer: option labels for choices, yes/no for booleans, the value otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    plain = getattr(value, "value", value)
    return OPTION_LABELS.get(field, {}).get(str(plain), str(plain))


def answer_problems(answers: dict[str, Any]) -> list[str]:
    """Every invalid answer as '<question label>: <what is allowed> (you entered <value>)'; empty when all are valid."""
    from pydantic import ValidationError

    try:
        Situation.model_validate(_cleaned(answers))
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else ""
            allowed = item["msg"].replace("Input should be", "must be").replace("Value error, ", "")
            given = item.get("input")
            problems.append(f"{LABELS.get(name, name).rstrip('?')}: {allowed} (you entered {given!r:.40})."
                            if item["type"] != "missing" else f"{LABELS.get(name, name).rstrip('?')}: an answer is needed.")
        return problems
    return []


def _cleaned(answers: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in answers.items():
        if value is None or value == "":
            continue
        if name == "deadline_days" and value == 0:
            continue
        cleaned[name] = value
    return cleaned


def answers_to_situation(answers: dict[str, Any]) -> Situation:
    """Questionnaire answers (widget values) to a validated Situation; blank optional answers mean 'not given'."""
    return make_situation(_cleaned(answers), where="questionnaire")


def default_answers() -> dict[str, Optional[Any]]:
    answers = {q.field: q.default for q in questions()}
    answers.update(task_type="classification", n_labeled_examples=1000, model_params_b=7.0)
    return answers
