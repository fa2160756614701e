"""Learned virtual tokens: prompt tuning (input embeddings) and prefix tuning (keys and values at every layer)."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan, frozen_base_plan_fields


def plan(ctx: CostContext) -> FamilyPlan:
    tokens = ctx.settings.virtual_tokens
    deep = ctx.recipe_peft_type == "PREFIX_TUNING"
    # Prompt tuning: one embedding per virtual token, inside the sequence. Prefix tuning: a key and a value
    # per virtual token at every layer (peft sizes them to the key/value width), outside the sequence.
    params = tokens * 2 * ctx.shape.layers * ctx.shape.kv_width if deep else tokens * ctx.shape.hidden
    return FamilyPlan(trainable_params=params, artifact_params_per_task=params,
                      sequence_extra_tokens=0 if deep else tokens,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request + tokens,
                      **frozen_base_plan_fields(ctx))
