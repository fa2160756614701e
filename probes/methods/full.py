"""Full fine-tuning: every weight of the copy trains at the method's learning rate (the head included)."""
from __future__ import annotations

from typing import Any

from knowledge.method import Method

METHODS = (Method.FULL_FINETUNE,)


def build(base: Any, method: Method, settings: Any, label_names: list[str]) -> Any:
    model = base.fresh_copy()
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def describe(base: Any, method: Method, settings: Any) -> dict:
    return {"trains": "every weight"}
