"""Cost model: trainable parameters, training memory, time, artefact size and serving cost per method.

One module per method family (knowledge.method.MethodFamily) says what its methods train and keep;
common.py holds the shape estimate and the shared memory / time arithmetic, feasibility.py the verdict and
the assumptions it rests on. Each method's numbers (rank, target modules, virtual tokens, optimizer,
quantisation, micro-batch, checkpointing) come from its recipe in knowledge/recipes.yaml, so costs and
recipes agree. With ``Situation.model_name`` the model's config is read through transformers (lazily) for
its exact shape; otherwise the nearest published shape in knowledge/costs.yaml is used.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Optional

from advisor.costs import full, head, hybrid, low_rank, prompting, scaling, soft_prompt
from advisor.costs.common import (
    GIB,
    CostContext,
    FamilyPlan,
    MethodCost,
    MethodSettings,
    ModelShapeEstimate,
    artifact_mib,
    estimate_shape,
    method_settings,
    serving_gib,
    training_memory,
    training_seconds,
)
from advisor.costs.feasibility import available_gib, decide
from advisor.knowledge import KnowledgeBase
from advisor.situation import Situation
from knowledge.method import MethodFamily

FAMILY_MODULES: dict[MethodFamily, ModuleType] = {
    MethodFamily.PROMPTING: prompting,
    MethodFamily.HEAD: head,
    MethodFamily.SOFT_PROMPT: soft_prompt,
    MethodFamily.SCALING: scaling,
    MethodFamily.LOW_RANK: low_rank,
    MethodFamily.FULL: full,
    MethodFamily.HYBRID: hybrid,
}

__all__ = ["FAMILY_MODULES", "MethodCost", "MethodSettings", "ModelShapeEstimate", "estimate_cost", "estimate_costs",
           "estimate_shape", "family_plan", "method_settings", "trainable_params"]


def _context(method: str, situation: Situation, kb: KnowledgeBase, shape: ModelShapeEstimate,
             overrides: Optional[dict[str, Any]]) -> CostContext:
    return CostContext(situation=situation, kb=kb, spec=kb.methods[method], shape=shape,
                       settings=method_settings(method, situation, kb, overrides))


def family_plan(ctx: CostContext) -> FamilyPlan:
    return FAMILY_MODULES[ctx.spec.family].plan(ctx)


def trainable_params(method: str, situation: Situation, shape: ModelShapeEstimate, kb: KnowledgeBase) -> int:
    return family_plan(_context(method, situation, kb, shape, None)).trainable_params


def estimate_cost(method: str, situation: Situation, kb: KnowledgeBase, shape: ModelShapeEstimate,
                  overrides: Optional[dict[str, Any]] = None) -> MethodCost:
    """Cost of one method; ``overrides`` replace recipe settings (e.g. a published setup's micro-batch)."""
    ctx = _context(method, situation, kb, shape, overrides)
    plan = family_plan(ctx)
    verdict = decide(ctx, plan)
    memory = verdict.memory
    total_gib = 0.0 if ctx.on_vendor else memory.total_gib
    recipe_total = 0.0 if ctx.on_vendor else training_memory(ctx, plan, ctx.settings).total_gib
    seconds, gpus = training_seconds(ctx, plan, verdict.settings)
    return MethodCost(
        method=method, trainable_params=plan.trainable_params,
        training_memory_gib=round(total_gib, 3), recipe_training_memory_gib=round(recipe_total, 3),
        weights_memory_gib=round(memory.weights / GIB, 3), optimizer_and_gradients_gib=round(memory.states / GIB, 3),
        activations_memory_gib=round(memory.activations / GIB, 3), available_memory_gib=round(available_gib(ctx), 3),
        feasible=verdict.feasible, infeasible_reason=verdict.reason, feasibility_note=verdict.note,
        assumptions=verdict.settings,
        est_training_hours=round(seconds / 3600, 4), est_gpu_hours=round(seconds * gpus / 3600, 4),
        artifact_size_mib_per_task=round(artifact_mib(ctx, plan), 4),
        serving_memory_gib=round(serving_gib(ctx, plan, ctx.settings), 3),
        extra_tokens_per_request=plan.extra_tokens_per_request,
    )


def estimate_costs(situation: Situation, kb: KnowledgeBase) -> dict[str, MethodCost]:
    shape = estimate_shape(situation, kb)
    return {method: estimate_cost(method, situation, kb, shape) for method in kb.methods}
