"""The only module that imports peft: build a trainable model for one trial."""
from __future__ import annotations

from typing import Any

from probes.models import LoadedModel
from probes.settings import ProbeSettings

HEAD_NAMES = ("classifier", "score", "pooler")


def _init_text(base: LoadedModel, label_names: list[str]) -> str:
    if base.task_kind == "classification":
        return f"Classify the text as one of: {', '.join(label_names)}. Text:"
    return "Continue the text with the expected answer for this task:"


def build_trial_model(base: LoadedModel, method: str, settings: ProbeSettings, label_names: list[str]) -> tuple[Any, list[dict]]:
    """Return (model, optimizer parameter groups without learning rates filled for the method's own params).

    Groups: {"params": [...], "role": "method" | "head"}; the runner sets each group's learning rate.
    """
    import torch
    from peft import LoraConfig, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    model = base.fresh_copy()
    task_type = TaskType.SEQ_CLS if base.task_kind == "classification" and not base.lm_head else TaskType.CAUSAL_LM
    if method == "full_finetune":
        for p in model.parameters():
            p.requires_grad_(True)
        return model, [{"params": [p for p in model.parameters()], "role": "method"}]
    if method == "prompt_tuning":
        n_tokens = settings.virtual_tokens[base.task_kind]
        config = PromptTuningConfig(task_type=task_type, num_virtual_tokens=n_tokens, prompt_tuning_init=PromptTuningInit.RANDOM)
        model = get_peft_model(model, config)
        # Initialise from text (class-label words), never randomly (lester2021): embed the init text with the
        # already-loaded tokenizer, repeated to fill the prompt, as peft's TEXT init does without reloading.
        ids = base.tokenizer(_init_text(base, label_names), add_special_tokens=False)["input_ids"]
        ids = (ids * (n_tokens // max(len(ids), 1) + 1))[:n_tokens]
        embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else model.base_model.get_input_embeddings()
        with torch.no_grad():
            prompt = model.prompt_encoder["default"].embedding
            prompt.weight.copy_(embeddings(torch.tensor(ids)).detach().to(prompt.weight.dtype))
    elif method == "lora":
        lora = settings.lora
        config = LoraConfig(task_type=task_type, r=int(lora["r"]), lora_alpha=int(lora["lora_alpha"]),
                            lora_dropout=float(lora["lora_dropout"]), target_modules="all-linear")
        model = get_peft_model(model, config)
    else:
        raise ValueError(f"probes do not train method {method!r}; choose prompt_tuning, lora or full_finetune")
    method_params, head_params = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_head = any(f".{h}." in f".{name}" for h in HEAD_NAMES) and "lora_" not in name and "prompt_encoder" not in name
        (head_params if is_head else method_params).append(param)
    groups = [{"params": method_params, "role": "method"}]
    if head_params:
        groups.append({"params": head_params, "role": "head"})
    return model, groups


def adapter_size_mib(model: Any, method: str) -> float:
    """Size of what must be stored per task (adapter weights, or the whole model for full fine-tuning)."""
    if method == "full_finetune":
        return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(model)
    return sum(t.numel() * t.element_size() for t in state.values()) / 2**20


def save_adapter(model: Any, directory: str) -> str:
    """peft models save only the adapter; a fully fine-tuned model saves all its weights."""
    model.save_pretrained(directory)
    return directory
