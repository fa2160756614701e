"""LoRA and its variants on every linear layer (peft): LoRA, rsLoRA (rank-stabilised scaling), DoRA (weight-decomposed).
QLoRA shares LoRA's adapters over a 4-bit base (bitsandbytes + CUDA); probes measure LoRA for it."""
from __future__ import annotations

from typing import Any

from knowledge.method import Method

METHODS = (Method.LORA, Method.RSLORA, Method.DORA)


def _options(method: Method, settings: Any) -> dict:
    lora = settings.lora
    return {"r": int(lora["r"]), "lora_alpha": int(lora["lora_alpha"]), "lora_dropout": float(lora["lora_dropout"]),
            "use_rslora": method == Method.RSLORA, "use_dora": method == Method.DORA}


def build(base: Any, method: Method, settings: Any, label_names: list[str]) -> Any:
    from peft import LoraConfig, get_peft_model

    from probes.methods.task_type import peft_task_type

    config = LoraConfig(task_type=peft_task_type(base), target_modules="all-linear", **_options(method, settings))
    return get_peft_model(base.fresh_copy(), config)


def describe(base: Any, method: Method, settings: Any) -> dict:
    return {**{f"lora_{k}": v for k, v in _options(method, settings).items()}, "target_modules": "all-linear"}
