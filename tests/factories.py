"""Builders for test inputs with sensible defaults (override any field)."""
from __future__ import annotations

import random
from typing import Optional

from advisor import Situation
from probes.result import CurvePoint, DataProfile, EvaluationDesign, Phase, ProbeStatus, SuiteResult, TrialResult, pack_correct


def make_situation(**overrides) -> Situation:
    values = dict(task_type="classification", n_labeled_examples=1000, model_params_b=7.0,
                  model_access="open_weights", gpu_memory_gb=80, n_gpus=1, n_tasks=1)
    values.update(overrides)
    return Situation(**values)


def correct_vector(accuracy: float, n: int, seed: int) -> list[bool]:
    """Exactly round(accuracy * n) correct examples, in a seeded random order."""
    k = round(accuracy * n)
    flags = [True] * k + [False] * (n - k)
    random.Random(seed).shuffle(flags)
    return flags


def point(step: int, correct: list[bool], train_loss: Optional[float] = 1.0) -> CurvePoint:
    return CurvePoint(step=step, examples_seen=step * 16, tokens_seen=step * 640, train_loss=train_loss, eval_loss=1.0,
                      eval_metric=round(sum(correct) / len(correct), 5), wall_time_s=float(step), n_eval_examples=len(correct),
                      correct_bits=pack_correct(correct))


def make_trial(method: str, correct: list[bool], *, steps: Optional[int] = 80, n_train: int = 1600, phase: Phase = Phase.CURVE,
               learning_rate: Optional[float] = 1e-3, status: ProbeStatus = ProbeStatus.COMPLETE, message: str = "",
               **overrides) -> TrialResult:
    trained = steps is not None
    curve = [point(steps if trained else 0, correct)] if correct else []
    values = dict(trial_id=f"{phase.value}-{method}", method=method, phase=phase, learning_rate=learning_rate if trained else None,
                  data_fraction=1.0, n_train_examples=n_train, n_eval_examples=len(correct), seed=0, status=status,
                  message=message, curve=curve if status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED) else [],
                  config={"batch_size": 16}, wall_time_s=1.0, tokens_seen=640)
    values.update(overrides)
    return TrialResult(**values)


def make_suite(accuracies: dict[str, float], *, n_eval: int = 400, steps: int = 80, n_train: int = 1600,
               probed_params_b: float = 7.0, architecture: str = "decoder", seed: int = 0,
               extra_trials: Optional[list[TrialResult]] = None) -> SuiteResult:
    """One main trial per method with the given measured accuracy on the same ``n_eval`` examples. zero_shot and
    few_shot are untrained baselines, linear_probe a reference; the rest trained for ``steps`` steps."""
    trials = []
    for i, (method, accuracy) in enumerate(accuracies.items()):
        correct = correct_vector(accuracy, n_eval, seed + i)
        if method in ("zero_shot", "few_shot"):
            trials.append(make_trial(method, correct, steps=None, n_train=0, phase=Phase.BASELINE))
        elif method == "linear_probe":
            trials.append(make_trial(method, correct, steps=None, n_train=n_train, phase=Phase.REFERENCE))
        else:
            trials.append(make_trial(method, correct, steps=steps, n_train=n_train))
    trials += extra_trials or []
    profile = DataProfile(n_rows=n_train + n_eval, n_train=n_train, n_eval=n_eval, task_kind="classification",
                          label_counts={"a": 1000, "b": 1000}, token_length_p50=30, token_length_p90=50, token_length_p99=60,
                          n_duplicates=0, n_train_eval_overlap=0)
    design = EvaluationDesign(kind="holdout", n_eval_examples=n_eval, n_train_examples=n_train, curve_eval_examples=min(n_eval, 200),
                              resolvable_difference=0.04)
    return SuiteResult(task_kind="classification", metric_name="accuracy", model="test", device="cpu", data_profile=profile,
                       trials=trials, budget_minutes=1.0, wall_time_s=1.0, probed_model_params_b=probed_params_b,
                       model_architecture=architecture, evaluation=design, eval_example_ids=list(range(n_eval)))
