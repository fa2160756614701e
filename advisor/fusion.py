"""Evidence fusion: fit learning curves to probe measurements, extrapolate, and weigh against rules.

Learning-curve form (saturating power law, as in Zhang et al. 2024 and the rectified scaling law):
    score(n) = c - a * n^(-b),   0 <= c <= 1, a >= 0, b in [b_min, b_max]
fitted to each method's score at the probe's data fractions. Uncertainty comes from a parametric
bootstrap over the evaluation noise of every measured point (binomial standard error on the
held-out split). numpy/scipy are imported lazily: the rules-only path never pays for them.
"""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.knowledge import KnowledgeBase
from probes.result import ProbeStatus, SuiteResult

_FROZEN = ConfigDict(frozen=True, extra="forbid")
INTERVAL_LOW_Q, INTERVAL_HIGH_Q = 0.1, 0.9  # 80% intervals
B_BOUNDS = (0.05, 1.5)
N_BOOTSTRAP = 1000


class Prediction(BaseModel):
    model_config = _FROZEN
    n_examples: int
    mean: float
    low: float = Field(description="10th percentile of the bootstrap (80% interval).")
    high: float = Field(description="90th percentile of the bootstrap (80% interval).")


class MethodCurveFit(BaseModel):
    model_config = _FROZEN
    method: str
    measured: list[tuple[int, float]] = Field(description="(n_train_examples, score) at each data fraction.")
    fitted: bool = Field(description="False when fewer than 2 usable points: the prediction is then the last measurement.")
    params: Optional[tuple[float, float, float]] = Field(default=None, description="(c, a, b) of c - a*n^-b.")
    at_user_size: Prediction
    still_improving: bool = Field(description="The full-data trial's score was still rising at its last evaluation.")
    failed_trials: list[str] = Field(default_factory=list)
    measured_tokens_per_s: Optional[float] = Field(default=None, description="Training throughput in the largest probe trial, on the probe's device.")
    probe_peak_memory_gib: Optional[float] = Field(default=None, description="Peak memory of the largest probe trial over the loaded base.")
    est_full_training_hours: Optional[float] = Field(default=None, description="Training time for the user's data size at the default epochs, on the probe's device, from measured throughput.")


class Crossover(BaseModel):
    model_config = _FROZEN
    leader_small: str = Field(description="Method ahead at small data sizes.")
    leader_large: str = Field(description="Method ahead at large data sizes.")
    n_examples_median: Optional[float]
    n_examples_low: Optional[float]
    n_examples_high: Optional[float]
    share_of_bootstrap_with_crossover: float


class ProbeEvidence(BaseModel):
    model_config = _FROZEN
    metric_name: str
    user_n_examples: int
    probe_n_train_examples: int
    baseline_score: Optional[float] = Field(description="No-training (zero-shot) score of the frozen model.")
    linear_probe_score: Optional[float] = Field(default=None, description="Logistic regression on frozen features, for reference.")
    fits: list[MethodCurveFit]
    p_best: dict[str, float] = Field(description="Share of bootstrap samples in which each method is best at the user's data size.")
    leader: Optional[str]
    conclusive: bool
    inconclusive_reasons: list[str]
    crossovers: list[Crossover]
    what_if: list[Prediction] = Field(default_factory=list, description="Leader's predicted score at larger data sizes.")
    what_if_by_method: dict[str, list[Prediction]] = Field(default_factory=dict)
    contributions: dict[str, float] = Field(description="Score change each advisor method gets from the probes.")


def _points(suite: SuiteResult, method: str) -> tuple[list[tuple[int, float, int]], list[str]]:
    points, failed = [], []
    for trial in suite.curve_trials(method):
        if trial.curve and trial.status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED):
            points.append((trial.n_train_examples, float(trial.final_metric), trial.n_eval_examples))
        else:
            failed.append(f"{trial.trial_id}: {trial.status.value} {trial.message}".strip())
    return points, failed


def _fit_many(ns, ys_matrix):
    """Least-squares fits of c - a*n^-b for many score vectors at once (rows of ys_matrix).

    For a fixed exponent b the model is linear in (c, a), so each b on a grid has a closed-form fit with the
    constraints a >= 0 and 0 <= c <= 1; the best b per row wins. Vectorised: thousands of fits in milliseconds.
    """
    import numpy as np

    ns = np.asarray(ns, float)
    ys = np.atleast_2d(np.asarray(ys_matrix, float))  # (S, k)
    b_grid = np.linspace(B_BOUNDS[0], B_BOUNDS[1], 59)
    x = ns[None, :] ** (-b_grid[:, None])  # (G, k)
    x_mean = x.mean(axis=1, keepdims=True)  # (G, 1)
    x_centered = x - x_mean
    denominator = np.maximum((x_centered ** 2).sum(axis=1), 1e-18)  # (G,)
    y_mean = ys.mean(axis=1)  # (S,)
    slope = (ys[:, None, :] - y_mean[:, None, None]) * x_centered[None, :, :]  # (S, G, k)
    slope = slope.sum(axis=2) / denominator[None, :]  # (S, G)
    a = np.maximum(-slope, 0.0)
    c = y_mean[:, None] + a * x_mean[None, :, 0]
    over = c > 1.0  # refit a with c fixed at 1
    if over.any():
        a_fixed = ((1.0 - ys)[:, None, :] * x[None, :, :]).sum(axis=2) / (x ** 2).sum(axis=1)[None, :]
        a = np.where(over, np.maximum(a_fixed, 0.0), a)
        c = np.where(over, 1.0, c)
    c = np.clip(c, 0.0, 1.0)
    predicted = c[:, :, None] - a[:, :, None] * x[None, :, :]
    sse = ((predicted - ys[:, None, :]) ** 2).sum(axis=2)  # (S, G)
    best = sse.argmin(axis=1)
    rows = np.arange(ys.shape[0])
    return np.stack([c[rows, best], a[rows, best], b_grid[best]], axis=1)  # (S, 3)


def _fit(ns, ys):
    return tuple(float(v) for v in _fit_many(ns, [ys])[0])


def _predict(params, n):
    c, a, b = params
    return c - a * float(n) ** (-b)


def _bootstrap_params(points, rng, n_samples=N_BOOTSTRAP):
    """Parametric bootstrap: resample each measured score from its binomial standard error, refit."""
    import numpy as np

    ns = [p[0] for p in points]
    ys = np.array([p[1] for p in points])
    se = np.array([max(np.sqrt(max(y * (1 - y), 1e-4) / max(n_eval, 1)), 1e-3) for _n, y, n_eval in points])
    draws = np.clip(rng.normal(ys[None, :], se[None, :], size=(n_samples, len(points))), 0.0, 1.0)
    return [tuple(row) for row in _fit_many(ns, draws)]


def _prediction(samples, n, point_fit) -> Prediction:
    import numpy as np

    values = np.array([_predict(s, n) for s in samples])
    return Prediction(n_examples=int(n), mean=round(float(_predict(point_fit, n)), 4),
                      low=round(float(np.quantile(values, INTERVAL_LOW_Q)), 4),
                      high=round(float(np.quantile(values, INTERVAL_HIGH_Q)), 4))


def _still_improving(suite: SuiteResult, method: str, margin: float) -> bool:
    trials = [t for t in suite.curve_trials(method) if t.curve]
    if not trials:
        return False
    curve = trials[-1].curve
    return len(curve) >= 2 and curve[-1].eval_metric - curve[-2].eval_metric > margin


def fuse_probe_results(suite: SuiteResult, user_n_examples: int, kb: KnowledgeBase, seed: int = 0,
                       n_bootstrap: int = N_BOOTSTRAP) -> ProbeEvidence:
    """Fit, extrapolate and compare every probed method; compute score contributions for the advisor."""
    import numpy as np

    rng = np.random.default_rng(seed)
    margin = kb.scoring.probe_tie_margin
    fits: list[MethodCurveFit] = []
    samples_by_method: dict[str, list] = {}
    point_fit_by_method: dict[str, tuple] = {}
    probe_n = 0
    for method in suite.probed_methods():
        points, failed = _points(suite, method)
        if not points:
            fits.append(MethodCurveFit(method=method, measured=[], fitted=False, at_user_size=Prediction(n_examples=user_n_examples, mean=0.0, low=0.0, high=0.0),
                                       still_improving=False, failed_trials=failed))
            continue
        probe_n = max(probe_n, max(p[0] for p in points))
        if len(points) >= 2:
            point_fit = _fit([p[0] for p in points], [p[1] for p in points])
            samples = _bootstrap_params(points, rng, n_bootstrap)
        else:  # one point: flat curve at the measured value, noise-only interval
            n0, y0, n_eval = points[0]
            point_fit = (y0, 0.0, 1.0)
            se = np.sqrt(max(y0 * (1 - y0), 1e-4) / max(n_eval, 1))
            samples = [(float(np.clip(rng.normal(y0, se), 0, 1)), 0.0, 1.0) for _ in range(n_bootstrap)]
        samples_by_method[method], point_fit_by_method[method] = samples, point_fit
        largest = max((t for t in suite.curve_trials(method) if t.curve), key=lambda t: t.n_train_examples, default=None)
        tokens_per_s = largest.tokens_per_s if largest else None
        hours = None
        if largest and tokens_per_s and largest.curve[-1].examples_seen:
            tokens_per_example = largest.curve[-1].tokens_seen / largest.curve[-1].examples_seen
            hours = round(user_n_examples * tokens_per_example * kb.costs.default_epochs / tokens_per_s / 3600, 4)
        fits.append(MethodCurveFit(
            measured_tokens_per_s=tokens_per_s, probe_peak_memory_gib=largest.peak_memory_gib if largest else None,
            est_full_training_hours=hours,
            method=method, measured=[(p[0], round(p[1], 4)) for p in points], fitted=len(points) >= 2,
            params=tuple(round(v, 6) for v in point_fit) if len(points) >= 2 else None,
            at_user_size=_prediction(samples, user_n_examples, point_fit),
            still_improving=_still_improving(suite, method, margin), failed_trials=failed,
        ))

    methods = list(samples_by_method)
    p_best: dict[str, float] = {}
    leader = None
    if methods:
        matrix = np.array([[_predict(s, user_n_examples) for s in samples_by_method[m]] for m in methods])
        winners = matrix.argmax(axis=0)
        p_best = {m: round(float(np.mean(winners == i)), 4) for i, m in enumerate(methods)}
        leader = max(methods, key=lambda m: (p_best[m], _predict(point_fit_by_method[m], user_n_examples)))

    reasons: list[str] = []
    if len(methods) < 2:
        reasons.append("fewer than two methods produced usable measurements")
    elif p_best.get(leader, 0) < 0.8:
        reasons.append(f"{leader} is best in only {p_best[leader]:.0%} of bootstrap samples (needs 80%); more labelled "
                       f"evaluation data or a longer probe (--budget-minutes {2 * suite.budget_minutes:g}) would separate the methods")
    leader_mean = next((f.at_user_size.mean for f in fits if f.method == leader), None)
    for fit in fits:
        if fit.still_improving and fit.method != leader and leader_mean is not None and fit.at_user_size.high >= leader_mean:
            reasons.append(f"{fit.method} was still improving at the end of its probe and its interval reaches the leader's "
                           f"score; a probe with about twice the training (--budget-minutes {2 * suite.budget_minutes:g}) would "
                           "show whether it catches up")
        if fit.failed_trials:
            reasons.append(f"{fit.method}: {len(fit.failed_trials)} trial(s) did not finish")
    baseline_trial = suite.baseline()
    floor = baseline_trial.final_metric if baseline_trial is not None and baseline_trial.curve else None
    for fit in fits:
        if floor is not None and fit.measured and max(y for _, y in fit.measured) <= floor + margin:
            reasons.append(f"{fit.method} never rose above the no-training baseline ({floor:.3f}) in the probe, so its "
                           "prediction is a lower bound: soft prompts in particular need many more steps to start "
                           "learning (Su et al. 2022); give it a longer probe before ruling it out")
    if probe_n and user_n_examples > 10 * probe_n:
        reasons.append(f"the prediction extrapolates {user_n_examples / probe_n:.0f}x beyond the largest probed data size")
    conclusive = not reasons

    crossovers: list[Crossover] = []
    grid = np.unique(np.geomspace(10, 1_000_000, 200).astype(int)).astype(float)

    def curves(samples):
        params = np.array(samples)  # (B, 3): c, a, b
        return params[:, :1] - params[:, 1:2] * grid[None, :] ** (-params[:, 2:3])

    for i, first in enumerate(methods):
        for second in methods[i + 1:]:
            diff = curves(samples_by_method[first]) - curves(samples_by_method[second])  # (B, grid)
            first_small = diff[:, 0] > 0
            small = first if first_small.mean() >= 0.5 else second
            large = second if small == first else first
            changes = np.sign(diff[:, 1:]) != np.sign(diff[:, :-1])
            has = changes.any(axis=1)
            found = grid[changes.argmax(axis=1) + 1][has]
            crossovers.append(Crossover(
                leader_small=small, leader_large=large,
                n_examples_median=float(np.median(found)) if len(found) else None,
                n_examples_low=float(np.quantile(found, INTERVAL_LOW_Q)) if len(found) else None,
                n_examples_high=float(np.quantile(found, INTERVAL_HIGH_Q)) if len(found) else None,
                share_of_bootstrap_with_crossover=round(float(has.mean()), 4),
            ))

    what_if_sizes = sorted({user_n_examples * 2, user_n_examples * 4, user_n_examples + 3000, user_n_examples * 10})
    what_if_by_method = {m: [_prediction(samples_by_method[m], n, point_fit_by_method[m]) for n in what_if_sizes] for m in methods}
    what_if = what_if_by_method.get(leader, []) if leader else []

    contributions: dict[str, float] = {}
    if methods:
        predicted = {m: _predict(point_fit_by_method[m], user_n_examples) for m in methods}
        mean_prediction = sum(predicted.values()) / len(predicted)
        weight = kb.scoring.probe_weight * (1.0 if conclusive else 0.5)
        for method, value in predicted.items():
            if method in kb.methods:
                contributions[method] = round(weight * (value - mean_prediction) / kb.scoring.probe_scale, 4)
        for method_id, spec in kb.methods.items():  # siblings (qlora <- lora) inherit the measurement
            if spec.same_evidence_as in contributions and method_id not in contributions:
                contributions[method_id] = contributions[spec.same_evidence_as]

    baseline, linear_probe = suite.baseline(), suite.linear_probe()
    return ProbeEvidence(
        metric_name=suite.metric_name, user_n_examples=user_n_examples, probe_n_train_examples=probe_n,
        baseline_score=baseline.final_metric if baseline and baseline.curve else None,
        linear_probe_score=linear_probe.final_metric if linear_probe and linear_probe.curve else None,
        fits=fits, p_best=p_best, leader=leader, conclusive=conclusive, inconclusive_reasons=reasons,
        crossovers=crossovers, what_if=what_if, what_if_by_method=what_if_by_method, contributions=contributions,
    )
