"""Questions for the UI, built from the Situation fields (labels here; help text from Field descriptions)."""
from __future__ import annotations

import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from advisor.situation import Situation, make_situation

# Every human label of a Situation field and its answers lives here, and only here: the questionnaire, the what-if
# controls, the page's view model (advisor/view.py), the counterfactual texts (advisor/explain.py) and the Markdown
# report read them. The help text always comes from Situation's field descriptions.


@dataclass(frozen=True)
class FieldText:
    """How one Situation field is named to a person."""

    question: str   # the questionnaire's label
    short: str      # a heading for a control or a table column
    noun: str = ""  # after a number in running text: "1,000 labelled examples" (numeric fields only)


FIELD_TEXT: dict[str, FieldText] = {
    "task_type": FieldText("What is the task?", "Task"),
    "n_labeled_examples": FieldText("How many labelled examples do you have?", "Labelled examples", "labelled examples"),
    "model_params_b": FieldText("Base model size (billions of parameters)", "Model size (billions of parameters)",
                                "billion parameters"),
    "model_architecture": FieldText("What kind of model is it?", "Model architecture"),
    "model_access": FieldText("How do you reach the model?", "Model access"),
    "model_name": FieldText("Model id or local path (optional)", "Model"),
    "gpu_memory_gb": FieldText("GPU memory per GPU (GB, 0 = no GPU)", "GPU memory per GPU (GB)", "GB of GPU memory"),
    "n_gpus": FieldText("Number of GPUs", "GPUs", "GPUs"),
    "n_tasks": FieldText("Tasks served from one base model", "Tasks on one base model", "tasks on one base model"),
    "seq_len_tokens": FieldText("Typical example length (tokens)", "Example length (tokens)", "tokens per example"),
    "strict_consistency": FieldText("Strict consistency / compliance", "Strict consistency"),
    "forgetting_sensitivity": FieldText("Must the model keep its general abilities?", "Keep general abilities"),
    "latency_sensitive": FieldText("Latency-sensitive serving", "Latency-sensitive"),
    "requirements_change": FieldText("How often do requirements change?", "Requirements change"),
    "base_model_updates": FieldText("How often will you change base model?", "Base model changes"),
    "data_on_premises_only": FieldText("Data must stay on premises", "Data on premises only"),
    "needs_domain_knowledge": FieldText("Needs new domain knowledge", "New domain knowledge"),
    "continued_pretraining": FieldText("The data is unlabelled domain text (continued pretraining)", "Continued pretraining"),
    "compute_budget": FieldText("Compute budget", "Compute budget"),
    "deadline_days": FieldText("Deadline in days (0 = none)", "Deadline (days)", "days to the deadline"),
    "interpretability_required": FieldText("Steering must be human-readable", "Human-readable steering"),
    "priority": FieldText("When methods are close, prefer", "Priority"),
}
# Human labels for choice answers (the stored values stay the Situation's enum values).
OPTION_LABELS: dict[str, dict[str, str]] = {
    "task_type": {"classification": "Classification", "sequence_labeling": "Sequence labelling (e.g. named entities)",
                  "extraction": "Information extraction", "qa": "Question answering", "summarization": "Summarisation",
                  "translation": "Translation", "generation": "Text generation",
                  "instruction_following": "Instruction following", "code": "Code"},
    "model_access": {"open_weights": "Open weights", "api_finetune": "Vendor API with fine-tuning",
                     "api_only": "Vendor API, prompting only"},
    "model_architecture": {"decoder": "Decoder (GPT, Llama, SmolLM)", "encoder": "Encoder (BERT, RoBERTa, MiniLM)",
                           "encoder_decoder": "Encoder-decoder (T5, BART)"},
    "forgetting_sensitivity": {"low": "Low", "medium": "Medium", "high": "High"},
    "compute_budget": {"low": "Low", "medium": "Medium", "high": "High"},
    "requirements_change": {"rarely": "Rarely", "monthly": "Monthly", "weekly": "Weekly"},
    "base_model_updates": {"rarely": "Rarely", "often": "Often"},
    "priority": {"balanced": "Balanced", "quality": "Quality", "cost": "Cost", "latency": "Latency"},
}


def field_label(field: str) -> str:
    """The question that asks for ``field``."""
    return FIELD_TEXT[field].question if field in FIELD_TEXT else field.replace("_", " ")


def field_short(field: str) -> str:
    """A short heading for ``field`` (what-if controls, table columns)."""
    return FIELD_TEXT[field].short if field in FIELD_TEXT else field.replace("_", " ")


def field_noun(field: str) -> str:
    """What a number of ``field`` counts, for running text ("20 or fewer labelled examples")."""
    text = FIELD_TEXT.get(field)
    return text.noun if text is not None and text.noun else field_short(field).lower()


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
        result.append(Question(field=name, label=field_label(name), help=info.description or "", kind=kind,
                               options=options, default=default, essential=name in ESSENTIAL))
    return result


def option_label(field: str, value: Any) -> str:
    """The human label of one answer: option labels for choices, yes/no for booleans, the value otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    plain = getattr(value, "value", value)
    return OPTION_LABELS.get(field, {}).get(str(plain), str(plain))


def _shown(value: Any) -> str:
    """A value as a person typed it: 0.0 -> '0', 1000000 -> '1,000,000', text quoted and cut at 40 characters."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(getattr(value, "value", value))
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _allowed(item: dict, field: str) -> str:
    """What a field accepts, from one pydantic error, in plain words."""
    ctx = item.get("ctx") or {}
    kind = item["type"]
    if kind == "greater_than":
        return f"must be more than {_shown(ctx['gt'])}"
    if kind == "greater_than_equal":
        return f"must be {_shown(ctx['ge'])} or more"
    if kind == "less_than_equal":
        return f"must be {_shown(ctx['le'])} or less"
    if kind == "less_than":
        return f"must be less than {_shown(ctx['lt'])}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "must be a finite number"
    if kind == "enum":
        return "must be one of: " + ", ".join(OPTION_LABELS.get(field, {}).values())
    return item["msg"].replace("Input should be", "must be").replace("Value error, ", "")


def field_problems(answers: dict[str, Any]) -> dict[str, str]:
    """Each invalid answer's field -> 'Must be more than 0 (you entered 0).'; empty when the answers make a Situation.

    For showing next to the field; ``problem_lines`` adds the question to each for a list shown elsewhere."""
    from pydantic import ValidationError

    try:
        Situation.model_validate(_cleaned(answers))
    except ValidationError as error:
        problems: dict[str, str] = {}
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else ""
            text = ("An answer is needed." if item["type"] == "missing" else
                    f"{_upper_first(_allowed(item, name))} (you entered {_shown(item.get('input'))}).")
            problems[name] = f"{problems[name]} {text}" if name in problems else text
        return problems
    return {}


def problem_lines(problems: dict[str, str]) -> list[str]:
    """``field_problems`` as '<short field label>: <problem>' lines."""
    return [f"{field_short(name)}: {text[0].lower()}{text[1:]}" for name, text in problems.items()]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


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
