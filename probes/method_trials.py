"""A trained method's planned trials (probes.plan.MethodPlan): the learning-rate sweep, the winner continued to its
main length, then the extra trials the budget affords (another seed, smaller training sets). Also the short
throwaway runs that measure seconds per step when a minutes budget has to become a step plan."""
from __future__ import annotations

import math
from typing import Optional, Sequence

from probes.plan import MethodPlan
from probes.result import Phase, ProbeStatus, TrialResult
from probes.run import LiveTrial, TrialEnvironment, TrialSpec


def _sweep_score(trial: TrialResult) -> Optional[tuple[float, int, Optional[float]]]:
    usable = trial.curve and trial.status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED) and not trial.message.startswith("diverged")
    if not usable:
        return None
    point = trial.curve[-1]
    return point.eval_metric, point.n_eval_examples or trial.n_eval_examples, point.train_loss


def choose_learning_rate(sweep: Sequence[TrialResult], tie_standard_errors: float) -> Optional[float]:
    """The best sweep score wins; among rates within ``tie_standard_errors`` binomial standard errors of it, the one
    with the lowest training loss (a short run's accuracy is noisy and often still at the majority class, while its
    loss already separates the rates). None when no rate produced a usable score."""
    scored = [(t.learning_rate, s) for t in sweep if (s := _sweep_score(t)) is not None]
    if not scored:
        return None
    top = max(s[0] for _, s in scored)
    n_eval = max(s[1] for _, s in scored)
    standard_error = math.sqrt(max(top * (1 - top), 1e-4) / max(n_eval, 1))
    close = [(lr, s) for lr, s in scored if s[0] >= top - tie_standard_errors * standard_error]
    return min(close, key=lambda item: (item[1][2] if item[1][2] is not None else float("inf"), item[0]))[0]


def _spec(method: str, phase: Phase, lr: float, train: Sequence[int], eval_ids: Sequence[int], curve_eval: int, seed: int,
          n_full: int, tag: str = "") -> TrialSpec:
    trial_id = f"{phase.value}-{method}-lr{lr:g}" + (f"-{tag}" if tag else "")
    return TrialSpec(trial_id=trial_id, method=method, phase=phase, learning_rate=lr, train_indices=list(train),
                     eval_indices=list(eval_ids), curve_eval_count=curve_eval, seed=seed,
                     data_fraction=round(len(train) / max(n_full, 1), 4))


def run_method(plan: MethodPlan, env: TrialEnvironment, train_ids: Sequence[int], eval_ids: Sequence[int],
               curve_eval: int, seed: int, record, save_to: Optional[str] = None) -> Optional[float]:
    """Run ``plan``; every finished trial goes to ``record``. Returns the chosen learning rate (None: nothing usable)."""
    n_full = len(train_ids)
    train_ids = list(train_ids)[: plan.n_train]  # the training split is shuffled: its first rows are a random sample
    lives = {lr: LiveTrial(_spec(plan.method, Phase.CURVE, lr, train_ids, eval_ids, curve_eval, seed, n_full), env,
                           planned_steps=plan.main_steps)
             for lr in plan.learning_rates[:1]}
    chosen = plan.learning_rates[0]
    if plan.sweep_steps:
        for lr in plan.learning_rates[1:]:
            lives[lr] = LiveTrial(_spec(plan.method, Phase.CURVE, lr, train_ids, eval_ids, curve_eval, seed, n_full), env,
                                  planned_steps=plan.main_steps)
        for live in lives.values():
            live.train_to(plan.sweep_steps, final=False)
        snapshots = {lr: live.snapshot() for lr, live in lives.items()}
        chosen = choose_learning_rate(list(snapshots.values()), env.settings.lr_tie_standard_errors) or plan.learning_rates[0]
        for lr, live in lives.items():
            if lr != chosen:
                record(live.freeze().model_copy(update={"phase": Phase.LR_SWEEP,
                                                        "trial_id": live.spec.trial_id.replace("curve-", "lr_sweep-", 1)}))
    winner = lives[chosen]
    record(winner.train_to(plan.main_steps, final=True).freeze(save_to))
    for extra in plan.extras:
        if env.should_cancel():
            break
        train = train_ids if extra.kind == "seed" else train_ids[: extra.n_train]
        spec = _spec(plan.method, Phase.CURVE, chosen, train, eval_ids, curve_eval, extra.seed, n_full,
                     tag=f"seed{extra.seed}" if extra.kind == "seed" else f"n{extra.n_train}")
        record(LiveTrial(spec, env, planned_steps=extra.steps).train_to(extra.steps, final=True).freeze())
    return chosen


def measure_step_seconds(env: TrialEnvironment, method: str, train_ids: Sequence[int], n_steps: int) -> Optional[float]:
    """Seconds per training step of ``method`` from a throwaway copy (the first step, with its one-off costs, is not
    counted). None when the method cannot train here (the real trials will record why)."""
    spec = TrialSpec(trial_id=f"calibrate-{method}", method=method, phase=Phase.CURVE,
                     learning_rate=env.settings.plan.default_learning_rate.get(method, 1e-4), train_indices=list(train_ids),
                     eval_indices=[], curve_eval_count=0)
    quiet = TrialEnvironment(**{**env.__dict__, "on_step": lambda *_: None, "deadline": None})
    live = LiveTrial(spec, quiet, planned_steps=n_steps + 1)
    try:
        if not live.ok:
            return None
        live._one_step()
        live.train_seconds = 0.0
        for _ in range(n_steps):
            live._one_step()
        return live.train_seconds / n_steps if live.ok else None
    except Exception:  # noqa: BLE001 - the real trial records the failure
        return None
    finally:
        live.model = live.optimizer = None
        live.meter.__exit__(None, None, None)
