"""(IA)3: learned scaling vectors on chosen activations (keys, values, the feed-forward input)."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan, frozen_base_plan_fields, projection_dims


def plan(ctx: CostContext) -> FamilyPlan:
    dims = projection_dims(ctx.shape)
    settings = ctx.settings
    # peft scales a feed-forward module's input and any other module's output.
    per_layer = sum(dims[m][0] if m in settings.feedforward_modules else dims[m][1] for m in settings.target_modules)
    params = per_layer * ctx.shape.layers
    return FamilyPlan(trainable_params=params, artifact_params_per_task=params,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request, **frozen_base_plan_fields(ctx))
