"""Builders for test inputs with sensible defaults (override any field)."""
from __future__ import annotations

from advisor import Situation
from probes.result import CurvePoint, DataProfile, ProbeStatus, SuiteResult, TrialResult


def make_situation(**overrides) -> Situation:
    values = dict(task_type="classification", n_labeled_examples=1000, model_params_b=7.0,
                  model_access="open_weights", gpu_memory_gb=80, n_gpus=1, n_tasks=1)
    values.update(overrides)
    return Situation(**values)


def make_trial(method: str, n_train: int, scores: list[float], *, fraction: float = 1.0, phase: str = "curve",
               n_eval: int = 400, status: ProbeStatus = ProbeStatus.COMPLETE, **overrides) -> TrialResult:
    curve = [CurvePoint(step=i + 1, examples_seen=(i + 1) * 16, tokens_seen=(i + 1) * 640, train_loss=1.0,
                        eval_loss=1.0, eval_metric=s, wall_time_s=float(i + 1)) for i, s in enumerate(scores)]
    values = dict(trial_id=f"{method}-{fraction}", method=method, phase=phase, learning_rate=1e-3, data_fraction=fraction,
                  n_train_examples=n_train, n_eval_examples=n_eval, seed=0, status=status, curve=curve,
                  wall_time_s=float(len(scores)), tokens_seen=640 * len(scores))
    values.update(overrides)
    return TrialResult(**values)


def make_suite(curves: dict[str, dict[int, float]], *, n_eval: int = 400, baseline: float | None = 0.5) -> SuiteResult:
    """curves: method -> {n_train_examples: final score}; each becomes one 'curve' trial."""
    trials = []
    for method, points in curves.items():
        largest = max(points)
        for n, score in sorted(points.items()):
            trials.append(make_trial(method, n, [score - 0.02, score], fraction=n / largest, n_eval=n_eval))
    if baseline is not None:
        trials.append(make_trial("frozen_baseline", max(max(p) for p in curves.values()), [baseline], phase="baseline", learning_rate=None))
    profile = DataProfile(n_rows=2000, n_train=1600, n_eval=n_eval, task_kind="classification", token_length_p50=30,
                          token_length_p90=50, token_length_p99=60, n_duplicates=0, n_train_eval_overlap=0)
    return SuiteResult(task_kind="classification", metric_name="accuracy", model="test", device="cpu", data_profile=profile,
                       trials=trials, budget_minutes=1.0, wall_time_s=1.0)
