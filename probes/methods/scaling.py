"""(IA)3: learned scaling vectors on keys, values and the feed-forward activations (peft's per-architecture targets)."""
from __future__ import annotations

from typing import Any

from knowledge.method import Method

METHODS = (Method.IA3,)


def build(base: Any, method: Method, settings: Any, label_names: list[str]) -> Any:
    from peft import IA3Config, get_peft_model

    from probes.methods.task_type import peft_task_type

    return get_peft_model(base.fresh_copy(), IA3Config(task_type=peft_task_type(base)))


def describe(base: Any, method: Method, settings: Any) -> dict:
    return {"targets": "peft's (IA)3 defaults for the architecture (keys, values, feed-forward)"}
