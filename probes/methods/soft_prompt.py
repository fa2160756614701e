"""Soft prompts: prompt tuning (virtual-token embeddings before the input) and prefix tuning (key/value prefixes at
every layer). Prompt tuning starts from the embeddings of a text naming the task's labels, never random (lester2021:
class-label init beats vocabulary and random init, by far for models under ~10B)."""
from __future__ import annotations

from typing import Any

from knowledge.method import Method

METHODS = (Method.PROMPT_TUNING, Method.PREFIX_TUNING)


def init_text(base: Any, label_names: list[str]) -> str:
    if base.task_kind == "classification":
        return f"Classify the text as one of: {', '.join(label_names)}. Text:"
    return "Continue the text with the expected answer for this task:"


def _copy_text_init(model: Any, base: Any, label_names: list[str], n_tokens: int) -> None:
    """Embed the init text with the already-loaded tokenizer, repeated to fill the prompt (what peft's TEXT init does,
    without reloading the tokenizer from the hub)."""
    import torch

    ids = base.tokenizer(init_text(base, label_names), add_special_tokens=False)["input_ids"]
    ids = (ids * (n_tokens // max(len(ids), 1) + 1))[:n_tokens]
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else model.base_model.get_input_embeddings()
    with torch.no_grad():
        prompt = model.prompt_encoder["default"].embedding
        prompt.weight.copy_(embeddings(torch.tensor(ids)).detach().to(prompt.weight.dtype))


def build(base: Any, method: Method, settings: Any, label_names: list[str]) -> Any:
    from peft import PrefixTuningConfig, PromptTuningConfig, PromptTuningInit, get_peft_model

    from probes.methods.task_type import peft_task_type

    n_tokens = settings.virtual_tokens[base.task_kind]
    if method == Method.PREFIX_TUNING:
        return get_peft_model(base.fresh_copy(), PrefixTuningConfig(task_type=peft_task_type(base), num_virtual_tokens=n_tokens))
    config = PromptTuningConfig(task_type=peft_task_type(base), num_virtual_tokens=n_tokens,
                                prompt_tuning_init=PromptTuningInit.RANDOM)
    model = get_peft_model(base.fresh_copy(), config)
    _copy_text_init(model, base, label_names, n_tokens)
    return model


def describe(base: Any, method: Method, settings: Any) -> dict:
    config = {"num_virtual_tokens": settings.virtual_tokens[base.task_kind]}
    if method == Method.PROMPT_TUNING:
        config["init"] = "text (class-label words)"
    return config
