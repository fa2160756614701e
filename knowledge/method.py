"""The Method vocabulary: one enum member per adaptation method the advisor can recommend.

Everything else about a method (name, family, prior, recipe, cost constants, probe settings) is data in
knowledge/*.yaml, read by knowledge.loader; the loader checks that methods.yaml and this enum agree.
"""
from __future__ import annotations

from enum import Enum


class Method(str, Enum):
    ZERO_SHOT = "zero_shot"
    FEW_SHOT = "few_shot"
    LINEAR_PROBE = "linear_probe"
    PROMPT_TUNING = "prompt_tuning"
    PREFIX_TUNING = "prefix_tuning"
    IA3 = "ia3"
    LORA = "lora"
    RSLORA = "rslora"
    DORA = "dora"
    QLORA = "qlora"
    FULL_FINETUNE = "full_finetune"
    HYBRID = "hybrid"

    def __str__(self) -> str:
        return self.value


class MethodFamily(str, Enum):
    """Methods of one family share a cost module (advisor/costs/<family>.py) and a probe module (probes/methods/<family>.py)."""

    PROMPTING = "prompting"        # hand-written prompts: zero-shot, few-shot (in-context examples)
    HEAD = "head"                  # frozen features + a trained linear head
    SOFT_PROMPT = "soft_prompt"    # learned virtual tokens: prompt tuning, prefix tuning
    SCALING = "scaling"            # learned activation scalings: (IA)3
    LOW_RANK = "low_rank"          # LoRA and its variants: rsLoRA, DoRA, QLoRA
    FULL = "full"                  # every weight trained
    HYBRID = "hybrid"              # LoRA for the domain + a soft prompt per task

    def __str__(self) -> str:
        return self.value
