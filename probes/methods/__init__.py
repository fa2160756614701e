"""One probe module per method family (knowledge.method.MethodFamily): how each method is built for a trial.

Trained families (soft_prompt, low_rank, scaling, full) expose ``METHODS`` and ``build(base, method, settings,
label_names) -> model`` with exactly the method's parameters trainable; the peft configs live only in these modules.
Reference families run without gradient training on the frozen model: ``head`` (the linear probe) and
``prompting`` (zero-shot; decoders' few-shot lives in probes.decoder). Adding a method = its enum member + YAML
entries + its family module here (new only for a new family).
"""
from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

from knowledge.method import Method, MethodFamily
from probes.methods import full, low_rank, scaling, soft_prompt

TRAINED_FAMILIES: dict[MethodFamily, ModuleType] = {
    MethodFamily.SOFT_PROMPT: soft_prompt,
    MethodFamily.LOW_RANK: low_rank,
    MethodFamily.SCALING: scaling,
    MethodFamily.FULL: full,
}
HEAD_NAMES = ("classifier", "score", "pooler")  # a task head created for classification: trained by every method


@lru_cache(maxsize=1)
def method_families() -> dict[str, MethodFamily]:
    from knowledge.loader import load_knowledge

    return {method_id: spec.family for method_id, spec in load_knowledge().methods.items()}


def family_module(method: str) -> ModuleType:
    family = method_families().get(method)
    module = TRAINED_FAMILIES.get(family) if family else None
    if module is None or Method(method) not in module.METHODS:
        trainable = sorted(m.value for mod in TRAINED_FAMILIES.values() for m in mod.METHODS)
        raise ValueError(f"probes do not train method {method!r}; trainable methods: {', '.join(trainable)}")
    return module


def trainable_methods() -> list[str]:
    return [m.value for module in TRAINED_FAMILIES.values() for m in module.METHODS]


def build_trial_model(base: Any, method: str, settings: Any, label_names: list[str]) -> tuple[Any, list[dict]]:
    """A trainable copy of the base for one trial, and its optimiser parameter groups (learning rates unset):
    ``{"params": [...], "role": "method" | "head"}``; the runner gives the method's rate to "method" and the
    settings' head rate to a freshly created classification head."""
    model = family_module(method).build(base, Method(method), settings, label_names)
    if family_module(method) is full:
        return model, [{"params": [p for p in model.parameters() if p.requires_grad], "role": "method"}]
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


def trial_config(base: Any, method: str, settings: Any) -> dict:
    """What the trial trains, for its record (e.g. rank and targets, virtual tokens)."""
    return family_module(method).describe(base, Method(method), settings)


def adapter_size_mib(model: Any, method: str) -> float:
    """Size of what must be stored per task (adapter weights, or the whole model for full fine-tuning)."""
    if family_module(method) is full:
        return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(model)
    return sum(t.numel() * t.element_size() for t in state.values()) / 2**20


def save_adapter(model: Any, directory: str) -> str:
    """peft models save only the adapter; a fully fine-tuned model saves all its weights."""
    model.save_pretrained(directory)
    return directory
