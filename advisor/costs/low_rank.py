"""LoRA and its variants (rsLoRA, DoRA, QLoRA): rank, targets, quantisation and optimizer come from the recipe."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan, adapted_output_features, frozen_base_plan_fields, lora_params


def plan(ctx: CostContext) -> FamilyPlan:
    params = lora_params(ctx)
    extra_activation = 0.0
    if ctx.recipe_peft.get("use_dora"):
        # DoRA adds a magnitude per output feature of every adapted layer, and keeps two outputs per layer for it.
        params += adapted_output_features(ctx) * ctx.shape.layers
        extra_activation = adapted_output_features(ctx) * ctx.kb.costs.dora_saved_bytes_per_output_feature
    return FamilyPlan(trainable_params=params, artifact_params_per_task=params,
                      extra_activation_bytes_per_token_per_layer=extra_activation,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request, **frozen_base_plan_fields(ctx))
