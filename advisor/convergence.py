"""Predict what a full-length run of a method reaches (its best-dev-checkpoint accuracy when trained on all N
labelled examples) from what a short probe measured, with an 80% interval — or say that the probe cannot
support a prediction and give the measurement "after K steps" only.

The model is data, in knowledge/convergence.yaml, fitted by benchmarks/fit_convergence.py on the project's own
ground truth (benchmarks/ground_truth.py: every method trained to convergence on public data, probes replayed
from those runs' curve prefixes):
- trained methods: predicted = measured + max(0, gain), gain linear in a few features of the probe (below),
  interval = measured noise (binomial) combined with the model's out-of-data-set residual spread, which depends
  on how many epochs the probe trained;
- the linear probe (trained to convergence by construction): its learning curve in N, error ~ N^-beta;
- zero-shot and few-shot prompting do not train: their measurement is the prediction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.measurements import Measured

Z_80 = 1.281552
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ConvergedPrediction(BaseModel):
    model_config = _FROZEN
    method: str
    n_examples: int = Field(description="The labelled-data size the prediction is for.")
    mean: float
    low: float = Field(description="10th percentile (80% interval).")
    high: float = Field(description="90th percentile (80% interval).")
    sd: float = Field(description="Predictive standard deviation (measurement noise and model error).")
    basis: str = Field(description="How the number was obtained.")


@dataclass(frozen=True)
class ProbeContext:
    """Measurements of the same suite that a prediction may use."""

    linear_probe: Optional[float]
    zero_shot: Optional[float]
    n_classes: int
    n_eval: int


def feature_values(m: Measured, n_target: int, context: ProbeContext) -> dict[str, float]:
    """The features a trained method's gain is predicted from (the vocabulary knowledge/convergence.yaml may use)."""
    measured = m.metric
    linear = context.linear_probe if context.linear_probe is not None else measured
    curve = [v for s, v in m.curve if s <= (m.steps or 0)]
    mid = [v for s, v in m.curve if s <= (m.steps or 0) / 2]
    slope = measured - (mid[-1] if mid else (curve[0] if curve else measured))
    epochs = m.epochs or 0.0
    return {
        "intercept": 1.0,
        "headroom_to_linear_probe": max(0.0, linear - measured),
        "headroom_per_epoch": max(0.0, linear - measured) / (1.0 + epochs),
        "linear_probe_minus_measured": linear - measured,
        "recent_gain": slope,
        "inverse_epochs": 1.0 / (1.0 + epochs),
        "log_epochs": math.log1p(epochs),
        "log_size_ratio": math.log(max(n_target, 1) / max(m.n_train_examples, 1)),
        "log_target_size": math.log(max(n_target, 1)),
        "linear_probe_headroom": 1.0 - linear,
        "chance_gap": measured - 1.0 / max(context.n_classes, 1),
    }


def _binomial_sd(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / max(n, 1))


def _finish(method: str, n: int, mean: float, sd: float, basis: str) -> ConvergedPrediction:
    mean = min(1.0, max(0.0, mean))
    return ConvergedPrediction(method=method, n_examples=n, mean=round(mean, 4), low=round(max(0.0, mean - Z_80 * sd), 4),
                               high=round(min(1.0, mean + Z_80 * sd), 4), sd=round(sd, 5), basis=basis)


def own_exponent(points: list[tuple[int, float]]) -> Optional[float]:
    """beta of error ~ N^-beta from (N, accuracy) points of one method (least squares in log-log), in [0, 1]."""
    usable = [(math.log(n), math.log(1 - a)) for n, a in points if n > 0 and 0 < a < 1]
    if len({x for x, _ in usable}) < 3:
        return None
    mx = sum(x for x, _ in usable) / len(usable)
    my = sum(y for _, y in usable) / len(usable)
    slope = sum((x - mx) * (y - my) for x, y in usable) / sum((x - mx) ** 2 for x, _ in usable)
    return min(1.0, max(0.0, -slope))


def _residual_sd(table: list[list[float]], epochs: float) -> float:
    """The model's residual spread for a probe of this many epochs: rows [max_epochs, sd], first match wins."""
    for upper, sd in table:
        if epochs <= upper:
            return sd
    return table[-1][1]


def predict_converged(m: Measured, n_target: int, context: ProbeContext, model) -> tuple[Optional[ConvergedPrediction], str]:
    """(prediction, why-not). ``model``: knowledge.models.ConvergenceModel."""
    noise = _binomial_sd(m.metric, context.n_eval)
    if m.steps is None and m.method in model.untrained_methods:
        return _finish(m.method, n_target, m.metric, noise, "measured: prompting does not train, so more labelled data "
                       "does not change it (few-shot's demonstrations are already chosen)"), ""
    if m.steps is None:  # the linear probe: trained to convergence; its curve in N
        prior = model.data_size_exponent.get(m.method, model.data_size_exponent["default"])
        own = own_exponent([*m.size_points, (m.n_train_examples, m.metric)])
        beta = prior if own is None else (prior + own) / 2
        ratio = max(m.n_train_examples, 1) / max(n_target, 1)
        mean = 1.0 - (1.0 - m.metric) * ratio ** beta
        sd = math.hypot(noise, model.linear_probe_residual_sd * abs(math.log(ratio)) / math.log(2) if ratio < 1 else 0.0)
        source = f"its own curve over {len(m.size_points) + 1} sizes and the fitted prior" if own is not None else "the fitted prior"
        return _finish(m.method, n_target, mean, sd, f"measured {m.metric:.3f} with {m.n_train_examples:,} examples, "
                       f"extended to {n_target:,} along error ~ N^-{beta:.2f} ({source})"), ""
    spec = model.trained.get(m.method) or next((model.trained[a] for a in model.anchors.get(m.method, []) if a in model.trained), None)
    epochs = m.epochs or 0.0
    if spec is None:
        return None, f"no converged-accuracy model for {m.method} yet"
    if epochs < spec.min_epochs:
        return None, (f"{m.steps} steps are {epochs:.2f} epochs, too few to predict a full-length run "
                      f"(needs {spec.min_epochs:g}+)")
    features = feature_values(m, n_target, context)
    gain = sum(coefficient * features[name] for name, coefficient in spec.coefficients.items())
    mean = m.metric + max(0.0, gain)
    beyond_sd, beyond_text = _beyond_ground_truth(n_target, model)
    sd = math.hypot(noise, _residual_sd(spec.residual_sd_by_epochs, epochs), beyond_sd) * model.interval_scale
    return _finish(m.method, n_target, mean, sd, f"measured {m.metric:.3f} after {m.steps} steps ({epochs:.2f} epochs) "
                   f"on {m.n_train_examples:,} examples; predicted gain to a full-length run at {n_target:,} examples "
                   f"{max(0.0, gain):+.3f} from the converged-accuracy model ({model.fitted_on}){beyond_text}"), ""


def _beyond_ground_truth(n_target: int, model) -> tuple[float, str]:
    """(extra sd, note) for a target size beyond twice the largest size the model was fitted on: the model is then
    extrapolated, and its interval widens by ``extrapolation_sd_per_doubling`` per doubling."""
    if not model.fitted_target_sizes:
        return 0.0, ""
    largest = max(model.fitted_target_sizes)
    if n_target <= 2 * largest:
        return 0.0, ""
    doublings = math.log2(n_target / (2 * largest))
    return (model.extrapolation_sd_per_doubling * doublings,
            f"; extrapolated: {n_target:,} examples is beyond the ground truth it was fitted on (up to {largest:,}), "
            "so the interval is wider")
