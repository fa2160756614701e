"""The peft task type a trial's model needs: sequence classification with a new head, or causal LM (decoders
scoring labels through the LM head, and generation)."""
from __future__ import annotations

from typing import Any


def peft_task_type(base: Any):
    from peft import TaskType

    return TaskType.SEQ_CLS if base.task_kind == "classification" and not base.lm_head else TaskType.CAUSAL_LM
