"""Feasibility: does the method fit the user's hardware, and on which assumption does the verdict rest?

The recipe's own training setting is tried first; if it does not fit, the changes in costs.yaml
feasibility_fallbacks are tried in order, each on top of the ones before. A method that fits only under a
fallback is feasible with a note naming it; one that fits only under a change that does not count (CPU offload)
or fits nowhere is infeasible with a reason naming the memory it needs and what would make it fit.
Memory needed never depends on the GPU size, so more GPU memory never makes a feasible method infeasible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from advisor.costs.common import CostContext, FamilyPlan, MemoryBreakdown, MethodSettings, training_memory

_MIN_SAVING = 0.99  # a fallback is worth naming when it saves at least 1% of the memory


@dataclass(frozen=True)
class Verdict:
    feasible: bool
    settings: MethodSettings
    memory: MemoryBreakdown
    reason: Optional[str] = None
    note: Optional[str] = None


def available_gib(ctx: CostContext) -> float:
    c, situation = ctx.kb.costs, ctx.situation
    return situation.n_gpus * situation.gpu_memory_gb * c.gpu_memory_unit_bytes / 1024**3 * c.usable_memory_fraction


def describe(settings: MethodSettings, plan: FamilyPlan) -> str:
    if plan.training != "backprop":
        return f"{settings.base_weights_dtype} weights, forward only, micro-batch {settings.micro_batch_size}"
    checkpointing = "gradient checkpointing" if settings.gradient_checkpointing else "no gradient checkpointing"
    offload = ", optimizer offloaded to CPU" if settings.optimizer_offload else ""
    return (f"micro-batch {settings.micro_batch_size} x {settings.seq_len_tokens} tokens, {checkpointing}, "
            f"{settings.optimizer}{offload}, {settings.base_weights_dtype} base")


def _ladder(ctx: CostContext, plan: FamilyPlan) -> list[tuple[str, bool, MethodSettings, MemoryBreakdown]]:
    """The fallbacks that lower the memory, cumulatively: (labels so far, counts as feasible, settings, memory)."""
    settings, memory = ctx.settings, training_memory(ctx, plan, ctx.settings)
    labels: list[str] = []
    steps = []
    for fallback in ctx.kb.costs.feasibility_fallbacks:
        candidate = settings.model_copy(update=fallback.change)
        candidate_memory = training_memory(ctx, plan, candidate)
        if candidate_memory.total_gib > memory.total_gib * _MIN_SAVING:
            continue  # already the recipe's setting, or no real saving for this method
        settings, memory = candidate, candidate_memory
        labels.append(fallback.label)
        steps.append((" + ".join(labels), fallback.makes_feasible, settings, memory))
    return steps


def decide(ctx: CostContext, plan: FamilyPlan) -> Verdict:
    c, situation, spec = ctx.kb.costs, ctx.situation, ctx.spec
    recipe_memory = training_memory(ctx, plan, ctx.settings)
    if ctx.on_vendor:
        return Verdict(True, ctx.settings, recipe_memory)
    if spec.needs_cuda and situation.gpu_memory_gb == 0:
        return Verdict(False, ctx.settings, recipe_memory, reason=f"{spec.name} needs a CUDA GPU (4-bit kernels); none is available.")
    if plan.training == "none":
        # Prompting is never ruled out on memory: the user already runs the model somehow (quantised, offloaded
        # or hosted); its serving memory still shows the cost.
        return Verdict(True, ctx.settings, recipe_memory)
    fits_cpu = situation.model_params_b <= c.cpu_training_max_params_b
    if situation.gpu_memory_gb == 0:
        if fits_cpu:
            return Verdict(True, ctx.settings, recipe_memory, note="No GPU: trains on the CPU (slow).")
        return Verdict(False, ctx.settings, recipe_memory, reason=(
            f"No GPU: training a {situation.model_params_b:g}B model on the CPU is impractical (limit {c.cpu_training_max_params_b:g}B)."))
    return _decide_on_gpu(ctx, plan, recipe_memory, fits_cpu)


def _decide_on_gpu(ctx: CostContext, plan: FamilyPlan, recipe_memory: MemoryBreakdown, fits_cpu: bool) -> Verdict:
    situation, usable = ctx.situation, available_gib(ctx)
    if recipe_memory.total_gib <= usable:
        return Verdict(True, ctx.settings, recipe_memory)
    hardware = f"{situation.n_gpus} x {situation.gpu_memory_gb:g} GB gives about {usable:.1f} GiB usable"
    needs = f"Needs about {recipe_memory.total_gib:.1f} GiB with its recipe ({describe(ctx.settings, plan)})"
    ladder = _ladder(ctx, plan)
    counting = [step for step in ladder if step[1]]
    for labels, _, settings, memory in counting:
        if memory.total_gib <= usable:
            return Verdict(True, settings, memory, note=(
                f"{needs}; fits only with {labels}: about {memory.total_gib:.1f} GiB ({hardware})."))
    if fits_cpu:
        return Verdict(True, ctx.settings, recipe_memory, note=f"{needs}; {hardware}: trains on the CPU instead (slow).")
    best_labels, _, _, best = counting[-1] if counting else ("", True, ctx.settings, recipe_memory)
    tried = f"; even with {best_labels} about {best.total_gib:.1f} GiB" if counting else ""
    offload = next(((labels, memory) for labels, counts, _, memory in ladder if not counts and memory.total_gib <= usable), None)
    offload_text = f" It would fit with {offload[0]} (about {offload[1].total_gib:.1f} GiB)." if offload else ""
    per_gpu = usable / max(situation.n_gpus, 1)
    gpus = math.ceil(best.total_gib / per_gpu) if per_gpu > 0 else 0
    return Verdict(False, ctx.settings, recipe_memory, reason=(
        f"{needs}{tried}; {hardware}.{offload_text} Sharded (FSDP / ZeRO-3) it would need about {gpus} such GPUs, "
        f"or a smaller or quantised base."))
