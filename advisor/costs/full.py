"""Full fine-tuning: every weight is trained; one full model copy per task."""
from __future__ import annotations

from advisor.costs.common import CostContext, FamilyPlan


def plan(ctx: CostContext) -> FamilyPlan:
    c = ctx.kb.costs
    total = int(ctx.n_params)
    return FamilyPlan(trainable_params=total, artifact_params_per_task=total, trains_base=True,
                      flops_per_param_token=c.full_finetune_flops_per_param_token, epochs=c.default_epochs,
                      serving_base_copies=ctx.situation.n_tasks, serves_artifacts=False,
                      extra_tokens_per_request=ctx.spec.extra_tokens_per_request)
