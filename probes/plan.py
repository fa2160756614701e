"""The probe's step plan, made once at the start and never changed: how many optimiser steps each trained method
gets, how its learning-rate sweep is run, and what extra trials the budget affords. Pure functions of numbers, so
the same plan drives real probes (probes.suite) and replays from the ground-truth runs (benchmarks/replay.py).

A method's budget (its share of the total, knowledge/probes.yaml ``plan.method_weights``) pays for:
1. a sweep: every rate of its grid for ``sweep_steps`` steps on the whole training split, scored on the same
   examples; the winner is *continued* (its K-step trial is the first K steps of the full-length run at that rate);
   with too little budget for a sweep, the grid's ``default_learning_rate`` is used alone;
2. the main trial, continued to K steps (K on the evaluation grid, at most the steps a full-length run needs:
   ``converged_epochs`` over its training rows); when K steps cannot cover the whole training split
   ``target_epochs`` times, the sweep and the main trial learn from its first 32 x 2^k rows that they can
   (probe_size), and the converged-accuracy model carries the result to the user's N;
3. with budget left after that (fast machines, small data): the main trial again with another seed, then trials
   on smaller training sets (for the data-size curve), each to convergence.
A minutes budget is turned into steps once, from measured seconds per step (probes.suite); a step budget is used
as given, so the same inputs, seed and step budget give the same result on any machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class ExtraTrial:
    kind: str  # "seed" (main trial again, another seed) or "size" (a smaller training set)
    n_train: int
    steps: int
    seed: int


@dataclass(frozen=True)
class MethodPlan:
    method: str
    learning_rates: list[float]
    sweep_steps: int  # 0: no sweep (one rate)
    main_steps: int
    n_train: int  # training rows the sweep and the main trial learn from (the first ones of the training split)
    extras: list[ExtraTrial] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        sweep = self.sweep_steps * (len(self.learning_rates) - 1) if self.sweep_steps else 0
        return sweep + self.main_steps + sum(e.steps for e in self.extras)


@dataclass(frozen=True)
class SuitePlan:
    methods: list[MethodPlan]
    budget_steps: int
    n_train: int
    note: str = ""

    @property
    def total_steps(self) -> int:
        return sum(m.total_steps for m in self.methods)

    def for_method(self, method: str) -> Optional[MethodPlan]:
        return next((m for m in self.methods if m.method == method), None)


def snap_down(steps: float, grid: list[int]) -> int:
    """The largest evaluation-grid step not above ``steps`` (0 when below the first)."""
    fitting = [s for s in grid if s <= steps]
    return fitting[-1] if fitting else 0


def converged_steps(n_train: int, batch_size: int, epochs: float, grid: list[int], floor: int) -> int:
    """Steps a full-length run of ``epochs`` epochs takes, snapped up to the grid (at least ``floor``)."""
    wanted = max(floor, math.ceil(epochs * n_train / batch_size))
    above = [s for s in grid if s >= wanted]
    return above[0] if above else grid[-1]


def _extras(method: str, budget: float, main_steps: int, n_train: int, batch_size: int, plan: dict, grid: list[int],
            seed: int) -> list[ExtraTrial]:
    extras: list[ExtraTrial] = []
    left = budget
    if left >= main_steps:
        extras.append(ExtraTrial("seed", n_train, main_steps, seed + 1))
        left -= main_steps
    n = n_train
    for fraction in plan.size_fractions:
        n = max(plan.min_size_trial_examples, round(n_train * fraction))
        steps = converged_steps(n, batch_size, plan.converged_epochs[method], grid, plan.min_main_steps)
        if n >= n_train or steps > left:
            continue
        extras.append(ExtraTrial("size", n, steps, seed))
        left -= steps
    return extras


def probe_size(n_train: int, steps: int, batch_size: int, target_epochs: float, smallest: int) -> int:
    """How many training rows a trial of ``steps`` steps should learn from: all of them when it sees them
    ``target_epochs`` times, else the largest of smallest x 2^k it does (a short trial on all rows measures little
    but how fast a method starts; the same steps on fewer rows come close to what a full-length run on those rows
    reaches, which the converged-accuracy model carries to the user's N)."""
    affordable = steps * batch_size / target_epochs
    if affordable >= n_train:
        return n_train
    size = smallest
    while size * 2 <= affordable:
        size *= 2
    return min(size, n_train)


def plan_method(method: str, grid_rates: list[float], budget: float, n_train: int, batch_size: int, settings: Any,
                seed: int = 0) -> MethodPlan:
    plan, grid = settings.plan, settings.eval_step_grid
    sweep = plan.sweep_steps
    rates = sorted(grid_rates)
    sweep_cost = sweep * (len(rates) - 1)
    if len(rates) < 2 or budget - sweep_cost < max(plan.min_main_steps, sweep):
        rates, sweep, sweep_cost = [plan.default_learning_rate[method]], 0, 0
    affordable = max(snap_down(budget - sweep_cost, grid), sweep, grid[0])
    n_probe = probe_size(n_train, affordable, batch_size, plan.target_epochs, plan.min_size_trial_examples)
    horizon = converged_steps(n_probe, batch_size, plan.converged_epochs[method], grid, plan.min_main_steps)
    main = max(min(horizon, affordable), sweep, grid[0])
    left = budget - sweep_cost - main
    extras = _extras(method, left, main, n_probe, batch_size, plan, grid, seed) if main >= horizon and n_probe == n_train else []
    return MethodPlan(method=method, learning_rates=rates, sweep_steps=sweep, main_steps=main, n_train=n_probe, extras=extras)


def plan_suite(methods: list[str], n_train: int, budget_steps: int, batch_size: int, settings: Any, seed: int = 0,
               step_cost: Optional[dict[str, float]] = None) -> SuitePlan:
    """Split ``budget_steps`` (in steps of the cheapest method when ``step_cost`` gives seconds per step) across
    ``methods`` by their weights, and plan each."""
    weights = {m: settings.plan.method_weights.get(m, 1.0) for m in methods}
    total_weight = sum(weights.values()) or 1.0
    cost = step_cost or {}
    cheapest = min((cost[m] for m in methods if cost.get(m)), default=1.0)
    plans = []
    for method in methods:
        relative = (cost.get(method) or cheapest) / cheapest
        budget = budget_steps * weights[method] / total_weight / relative
        plans.append(plan_method(method, settings.learning_rate_grids[method], budget, n_train, batch_size, settings, seed))
    note = ""
    if any(p.sweep_steps == 0 for p in plans):
        note = "too small a budget for a learning-rate sweep: " + ", ".join(
            f"{p.method} at {p.learning_rates[0]:g}" for p in plans if p.sweep_steps == 0)
    return SuitePlan(methods=plans, budget_steps=budget_steps, n_train=n_train, note=note)


def plan_folds(methods: list[str], n_folds_total: int, n_train_per_fold: int, budget_steps: int, batch_size: int,
               settings: Any, step_cost: Optional[dict[str, float]] = None) -> tuple[int, dict[str, int]]:
    """Cross-validation (tiny data): every trained method at its default rate for the same number of steps per
    fold, as many folds as the budget pays for (at least the first repetition's folds). Returns (folds, steps)."""
    plan, grid = settings.plan, settings.eval_step_grid
    cost = step_cost or {}
    cheapest = min((cost[m] for m in methods if cost.get(m)), default=1.0)
    relative = {m: (cost.get(m) or cheapest) / cheapest for m in methods}
    steps = {m: converged_steps(n_train_per_fold, batch_size, plan.converged_epochs[m], grid, plan.min_main_steps)
             for m in methods}
    per_fold = sum(steps[m] * relative[m] for m in methods) or 1.0
    first_repeat = settings.evaluation.kfold_folds
    folds = max(min(first_repeat, n_folds_total), min(n_folds_total, int(budget_steps // per_fold)))
    if folds * per_fold > budget_steps:  # even one repetition does not fit at full length: shorten every trial
        scale = budget_steps / (folds * per_fold)
        steps = {m: max(grid[0], snap_down(s * scale, grid)) for m, s in steps.items()}
    return folds, steps
