"""What the probes measured, per method, read from a SuiteResult: the last point of each method's main trial on the
shared evaluation examples (holdout), or every fold's held-out examples pooled (k-fold), with per-example results
for paired comparisons; plus what failed and why.

Pure Python over the probe result models (no torch); numpy only where arrays help.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from probes.result import Phase, ProbeStatus, SuiteResult, TrialResult

USABLE = (ProbeStatus.COMPLETE, ProbeStatus.STOPPED)


@dataclass(frozen=True)
class Measured:
    """One method's measurement. ``per_example`` maps an example key (row id, or (row id, repeat) for k-fold) to its
    score; ``metric`` is their mean."""

    method: str
    metric: float
    per_example: dict
    n_train_examples: int
    steps: Optional[int]  # optimiser steps of the trial (None: not trained by gradient descent)
    batch_size: Optional[int]
    learning_rate: Optional[float]
    curve: list[tuple[int, float]]  # (step, metric) of the main trial (subset points, then the full last point)
    trials: list[TrialResult] = field(default_factory=list)
    size_points: list[tuple[int, float]] = field(default_factory=list)  # converged trials on smaller training sets
    seed_metrics: list[float] = field(default_factory=list)  # the main trial again with other seeds

    @property
    def epochs(self) -> Optional[float]:
        if self.steps is None or not self.batch_size or not self.n_train_examples:
            return None
        return self.steps * self.batch_size / self.n_train_examples


@dataclass(frozen=True)
class NotMeasured:
    method: str
    reason: str


def _usable(trial: TrialResult) -> bool:
    return bool(trial.curve) and trial.status in USABLE and trial.curve[-1].per_example() is not None \
        and not trial.message.startswith(("diverged", "cancelled"))


def _failure(trials: list[TrialResult]) -> str:
    reasons = sorted({f"{t.status.value}: {t.message}".strip().rstrip(":") for t in trials if not _usable(t)})
    return "; ".join(reasons) or "no trial produced a usable measurement"


def _holdout_measurement(method: str, trials: list[TrialResult], eval_ids: list[int]) -> Optional[Measured]:
    main_candidates = [t for t in trials if t.phase in (Phase.CURVE, Phase.BASELINE, Phase.REFERENCE) and _usable(t)
                       and t.curve[-1].n_eval_examples == len(eval_ids)]
    if not main_candidates:
        return None
    full_size = max(t.n_train_examples for t in main_candidates)
    at_full = [t for t in main_candidates if t.n_train_examples == full_size]
    main = min(at_full, key=lambda t: (t.seed, t.trial_id))
    scores = main.curve[-1].per_example()
    trained = main.learning_rate is not None
    return Measured(
        method=method, metric=sum(scores) / len(scores), per_example=dict(zip(eval_ids, scores)),
        n_train_examples=main.n_train_examples, steps=main.curve[-1].step if trained else None,
        batch_size=main.config.get("batch_size") if trained else None, learning_rate=main.learning_rate,
        curve=[(p.step, p.eval_metric) for p in main.curve], trials=trials,
        size_points=sorted((t.n_train_examples, t.final_metric) for t in main_candidates if t.n_train_examples < full_size),
        seed_metrics=[t.final_metric for t in at_full if t is not main and t.learning_rate == main.learning_rate])


def _kfold_measurement(method: str, trials: list[TrialResult]) -> Optional[Measured]:
    folds = [t for t in trials if t.fold is not None and _usable(t) and t.eval_example_ids]
    if not folds:
        return None
    per_example = {}
    for trial in folds:
        for row, score in zip(trial.eval_example_ids, trial.curve[-1].per_example()):
            per_example[(row, trial.repeat or 0)] = score
    trained = folds[0].learning_rate is not None
    return Measured(
        method=method, metric=sum(per_example.values()) / len(per_example), per_example=per_example,
        n_train_examples=round(sum(t.n_train_examples for t in folds) / len(folds)),
        steps=folds[0].curve[-1].step if trained else None, batch_size=folds[0].config.get("batch_size") if trained else None,
        learning_rate=folds[0].learning_rate, curve=[], trials=trials)


def measure(suite: SuiteResult) -> tuple[dict[str, Measured], list[NotMeasured]]:
    """Every method the suite tried: measured (on the shared examples) or not, with the reason."""
    measured: dict[str, Measured] = {}
    missing: list[NotMeasured] = []
    kfold = suite.evaluation is not None and suite.evaluation.kind == "kfold"
    for method in suite.probed_methods():
        trials = suite.trials_of(method)
        result = _kfold_measurement(method, trials) if kfold else _holdout_measurement(method, trials, suite.eval_example_ids)
        if result is None:
            missing.append(NotMeasured(method, _failure(trials)))
        else:
            measured[method] = result
    return measured, missing
