"""Hand-written prompts (zero-shot, few-shot): nothing trained; the cost is the context the prompt takes."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan


def plan(ctx: CostContext) -> FamilyPlan:
    settings = ctx.settings
    extra = ctx.spec.extra_tokens_per_request + settings.in_context_examples * settings.seq_len_tokens
    return FamilyPlan(trainable_params=0, artifact_params_per_task=0, training="none", serves_artifacts=False,
                      extra_tokens_per_request=extra)
