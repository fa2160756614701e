"""Hybrid: one LoRA adapter for the shared domain plus one soft prompt per task."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan, frozen_base_plan_fields, lora_params


def plan(ctx: CostContext) -> FamilyPlan:
    n_tasks = ctx.situation.n_tasks
    prompt = ctx.settings.virtual_tokens * ctx.shape.hidden
    domain = lora_params(ctx)
    return FamilyPlan(trainable_params=domain + prompt * n_tasks, artifact_params_per_task=prompt + domain // n_tasks,
                      sequence_extra_tokens=ctx.settings.virtual_tokens,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request + ctx.settings.virtual_tokens,
                      **frozen_base_plan_fields(ctx))
