"""Frozen features + a trained linear head: one forward pass over the data, then a tiny classifier."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan

# A forward pass costs about 2 FLOPs per parameter per token (half of the frozen-base backward's 4).
_FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0


def plan(ctx: CostContext) -> FamilyPlan:
    head_params = ctx.shape.hidden  # one linear head over pooled features (per class; a handful of classes)
    return FamilyPlan(trainable_params=head_params, artifact_params_per_task=head_params, training="forward",
                      flops_per_param_token=_FORWARD_FLOPS_PER_PARAM_TOKEN, epochs=1,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request)
