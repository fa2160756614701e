"""Evidence from probes: what each method measured (paired, on the same examples), what a full-length run of it
would reach at the user's data size (advisor/convergence.py), and how likely each is to be the best.

Steps: measure (advisor/measurements.py) -> predict each measured method's converged accuracy -> paired
differences against the leader and the no-training baseline (advisor/paired.py) -> a Monte Carlo over
measurement noise (one bootstrap of the shared evaluation examples for all methods, so their correlation is kept)
and the prediction model's error -> P(best), P(within tolerance of the best), conclusive or not and what would
settle it. Probes on a model much smaller or larger than the user's are labelled proxy evidence.
numpy is imported lazily: the rules-only path never pays for it.
"""
from __future__ import annotations

import math
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.convergence import ConvergedPrediction, ProbeContext, predict_converged
from advisor.decision import ProbeDecision
from advisor.knowledge import KnowledgeBase
from advisor.measurements import Measured, measure
from advisor.numbers import counted, model_size_text
from advisor.paired import PairedDifference, paired_difference
from knowledge.method import Method
from probes.result import EvaluationDesign, SuiteResult

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MethodEvidence(BaseModel):
    model_config = _FROZEN
    method: str
    measured: Optional[float] = Field(default=None, description="Metric after the probe (its last point) on the shared "
                                      "evaluation examples; None when the method was tried but not measured.")
    measured_low: Optional[float] = Field(default=None, description="95% interval of the measurement (binomial).")
    measured_high: Optional[float] = None
    what_was_measured: str = Field(default="", description="e.g. 'after 80 steps (0.85 epochs) on 1,500 examples'.")
    steps: Optional[int] = None
    epochs: Optional[float] = None
    n_train_examples: int = 0
    learning_rate: Optional[float] = None
    prediction: Optional[ConvergedPrediction] = Field(default=None, description="Full-length run at the user's data size.")
    no_prediction_reason: str = ""
    what_if: list[ConvergedPrediction] = Field(default_factory=list, description="Predictions at larger data sizes.")
    curve: list[tuple[int, float]] = Field(default_factory=list, description="(step, metric) of the main trial.")
    size_points: list[tuple[int, float]] = Field(default_factory=list, description="(training examples, metric) of converged smaller-set trials.")
    not_measured_reason: str = ""
    tokens_per_s: Optional[float] = None
    peak_memory_gib: Optional[float] = None
    extra_tokens_per_request: Optional[int] = None


class ProxyNote(BaseModel):
    model_config = _FROZEN
    probed_params_b: float
    target_params_b: float
    probed_architecture: str
    target_architecture: str
    weight: float = Field(description="Weight of the measured gaps between methods in the decision (1 = on the target).")
    text: str


class ProbeEvidence(BaseModel):
    model_config = _FROZEN
    metric_name: str
    user_n_examples: int
    evaluation: Optional[EvaluationDesign]
    methods: list[MethodEvidence]
    comparisons: list[PairedDifference] = Field(description="Each measured method against the leader and against "
                                                "zero-shot, on the same examples (measured values, not predictions).")
    leader: Optional[str] = Field(description="Highest predicted full-length accuracy among the measured methods.")
    p_best: dict[str, float] = Field(description="Probability each measured method is best after full-length training.")
    p_within_tolerance: dict[str, float] = Field(description="Probability each is within the tolerance of the best.")
    tolerance: float
    conclusive: bool
    inconclusive_reasons: list[str]
    settle: list[str] = Field(default_factory=list, description="What would settle an inconclusive probe.")
    proxy: Optional[ProxyNote] = None
    baseline_score: Optional[float] = Field(default=None, description="Zero-shot (no training) measured score.")
    linear_probe_score: Optional[float] = None
    probe_n_train_examples: int = 0
    budget_minutes: float = 0.0
    budget_steps: Optional[int] = None

    def method(self, method: str) -> Optional[MethodEvidence]:
        return next((m for m in self.methods if m.method == method), None)

    def gap(self, method: str, versus: str) -> Optional[PairedDifference]:
        """``method`` minus ``versus`` on the same examples, whichever way round the pair is stored."""
        return _oriented(self.comparisons, method, versus)

    @property
    def measured_methods(self) -> list[str]:
        return [m.method for m in self.methods if m.measured is not None]


def _oriented(comparisons: list[PairedDifference], method: str, versus: str) -> Optional[PairedDifference]:
    for c in comparisons:
        if (c.method, c.versus) == (method, versus):
            return c
        if (c.method, c.versus) == (versus, method):
            return c.model_copy(update={"method": method, "versus": versus, "difference": -c.difference,
                                        "low": -c.high, "high": -c.low,
                                        "what": " vs ".join(reversed(c.what.split(" vs ", 1)))})
    return None


def _wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def _what_was_measured(m: Measured) -> str:
    if m.steps is None:
        return "no gradient training" if m.n_train_examples == 0 or m.method in (Method.ZERO_SHOT, Method.FEW_SHOT) \
            else f"fitted to convergence on {m.n_train_examples:,} examples"
    return f"after {m.steps} steps ({m.epochs:.2f} epochs) on {m.n_train_examples:,} examples"


def _trial_facts(m: Measured) -> dict:
    trained = [t for t in m.trials if t.curve]
    main = max(trained, key=lambda t: (t.n_train_examples, -t.seed), default=None)
    if main is None:
        return {}
    return {"tokens_per_s": main.tokens_per_s, "peak_memory_gib": main.peak_memory_gib,
            "extra_tokens_per_request": main.config.get("extra_tokens_per_request")}


def _proxy(suite: SuiteResult, target_params_b: Optional[float], target_architecture: Optional[str],
           kb: KnowledgeBase) -> Optional[ProxyNote]:
    probed, ratio = suite.probed_model_params_b, kb.scoring.proxy_size_ratio
    size_off = bool(target_params_b and probed and max(target_params_b / probed, probed / target_params_b) > ratio)
    arch_off = bool(target_architecture and suite.model_architecture and target_architecture != suite.model_architecture)
    if not (size_off or arch_off):
        return None
    weight = kb.scoring.proxy_evidence_weight
    return ProxyNote(probed_params_b=probed, target_params_b=target_params_b or 0.0, probed_architecture=suite.model_architecture,
                     target_architecture=target_architecture or "", weight=weight,
                     text=(f"Measured on a proxy ({model_size_text(probed or 0)} {suite.model_architecture}) for your "
                           f"{model_size_text(target_params_b or 0)} "
                           f"{target_architecture or 'model'}: the gaps between methods count at weight {weight:g} next to "
                           "the published evidence, and absolute accuracies are the proxy's, not your model's. Gaps change "
                           "with scale: soft prompts close the gap to fine-tuning only from ~10B parameters (Lester et al. "
                           "2021; P-tuning v2)."))


def _predictions(measured: dict[str, Measured], n_target: int, context: ProbeContext, kb: KnowledgeBase):
    predictions, why_not, what_if = {}, {}, {}
    sizes = sorted({n_target * 2, n_target * 4, n_target * 10})
    for method, m in measured.items():
        prediction, reason = predict_converged(m, n_target, context, kb.convergence)
        if prediction is None:
            why_not[method] = reason
            continue
        predictions[method] = prediction
        if method not in kb.convergence.untrained_methods:  # prompting does not change with more labelled data
            what_if[method] = [p for n in sizes if (p := predict_converged(m, n, context, kb.convergence)[0]) is not None]
    return predictions, why_not, what_if


def decision_samples(measured: dict[str, Measured], predictions: dict[str, ConvergedPrediction], kb: KnowledgeBase,
                     seed: int = 0) -> dict[str, list[float]]:
    """Monte Carlo draws of each measured method's full-length prediction (or, without one, of its measurement): the
    shared evaluation examples bootstrapped once per draw for every method (their errors are correlated), plus each
    prediction's own model error, widened by ``scoring.decision_sd_scale`` to calibrate the confidence
    (knowledge/scoring.yaml says why); ``ProbeDecision.predicted_sd`` keeps the fitted sd for the precision weights."""
    import numpy as np

    from advisor.paired import _example_means

    rng = np.random.default_rng(seed)
    n = kb.scoring.monte_carlo_samples
    means = {m: _example_means(x.per_example) for m, x in measured.items()}
    keys = sorted(set().union(*[set(v) for v in means.values()]), key=str) if means else []
    index = {k: i for i, k in enumerate(keys)}
    picks = rng.integers(0, len(keys), size=(n, len(keys))) if keys else None
    samples = {}
    for method, m in measured.items():
        row = np.full(len(keys), np.nan)
        for key, value in means[method].items():
            row[index[key]] = value
        resampled = np.nanmean(row[picks], axis=1) if picks is not None else np.full(n, m.metric)
        shift = resampled - np.nanmean(row)
        if method in predictions:
            p = predictions[method]
            noise = math.sqrt(max((p.sd * kb.scoring.decision_sd_scale) ** 2 - np.var(shift), 0.0))
            samples[method] = (p.mean + shift + rng.normal(0, noise, n)).clip(0, 1).tolist()
        else:  # the measurement itself: a lower bound for what a full-length run reaches
            samples[method] = (m.metric + shift).clip(0, 1).tolist()
    return samples


def probabilities(samples: dict[str, list[float]], tolerance: float) -> tuple[dict[str, float], dict[str, float]]:
    import numpy as np

    if not samples:
        return {}, {}
    methods = list(samples)
    matrix = np.array([samples[m] for m in methods])
    best = matrix.max(axis=0)
    winners = matrix.argmax(axis=0)
    p_best = {m: round(float(np.mean(winners == i)), 4) for i, m in enumerate(methods)}
    within = {m: round(float(np.mean(matrix[i] >= best - tolerance)), 4) for i, m in enumerate(methods)}
    return p_best, within


def _comparisons(measured: dict[str, Measured], leader: Optional[str]) -> list[PairedDifference]:
    """Each measured method minus zero-shot (its gain over no training), then each other method minus the leader;
    a pair is stored once (``ProbeEvidence.gap`` reads it either way round)."""
    out = []
    for anchor in [a for a in (Method.ZERO_SHOT.value, leader) if a in measured]:
        for method, m in measured.items():
            if method == anchor or any({c.method, c.versus} == {method, anchor} for c in out):
                continue
            what = f"{method} {_what_was_measured(m)} vs {anchor} {_what_was_measured(measured[anchor])}"
            diff = paired_difference(m, measured[anchor], what)
            if diff is not None:
                out.append(diff)
    return out


def _conclusiveness(leader, within, predictions, why_not, comparisons, suite: SuiteResult, kb) -> tuple[bool, list[str], list[str]]:
    reasons, settle = [], []
    threshold, tolerance = kb.scoring.conclusive_probability, kb.scoring.decision_tolerance
    if leader is None:
        return False, ["no method produced a usable measurement"], ["a probe in which at least one method trains"]
    if within.get(leader, 0) < threshold:
        reasons.append(f"{leader} is within {counted(tolerance * 100, 'point')} of the best in only {within.get(leader, 0):.0%} "
                       f"of the simulations (needs {threshold:.0%})")
        others = [c.versus if c.method == leader else c.method for c in comparisons if leader in (c.method, c.versus)]
        close = [gap for gap in (_oriented(comparisons, other, leader) for other in others) if not gap.resolved]
        if close and suite.evaluation is not None:
            worst = max(close, key=lambda c: c.resolvable)
            needed = suite.evaluation.n_eval_examples * (worst.resolvable / max(abs(worst.difference), 0.005)) ** 2
            settle.append(f"about {needed:,.0f} evaluation examples would resolve {leader} vs {worst.method} "
                          f"(measured gap {worst.difference:+.3f}, now resolvable to ±{worst.resolvable:.3f})")
    for method, reason in why_not.items():
        reasons.append(f"{method}: no full-length prediction ({reason})")
    if why_not or reasons:
        settle.append(_budget_to_settle(suite, kb))
    return not reasons, reasons, settle


def _budget_to_settle(suite: SuiteResult, kb) -> str:
    """The budget at which every trained method sweeps its rates and then sees all the training rows
    ``plan.target_epochs`` times (the probe's predictions are then at their narrowest short of a full run)."""
    plan = kb.probe_settings.get("plan", {})
    grids = kb.probe_settings.get("learning_rate_grids", {})
    trained = sorted({t.method for t in suite.trials if t.learning_rate is not None})
    batch = next((t.config.get("batch_size") for t in suite.trials if t.config.get("batch_size")), 16)
    per_method = {m: plan.get("sweep_steps", 20) * max(len(grids.get(m, [1])) - 1, 0)
                  + math.ceil(plan.get("target_epochs", 3) * suite.data_profile.n_train / batch) for m in trained}
    steps = sum(per_method.values())
    if suite.budget_steps is not None or not suite.seconds_per_step:
        return f"a step budget of about {steps:,} (--budget-steps {steps}) lets every method see all your training rows"
    seconds = sum(per_method[m] * suite.seconds_per_step.get(m, max(suite.seconds_per_step.values())) for m in trained)
    share = plan.get("evaluation_time_share", 0.25)
    minutes = math.ceil(seconds / (1 - share) / 60 + suite.budget_minutes * 0.2)
    return (f"about {counted(minutes, 'minute')} on this machine (--budget-minutes {minutes:g}) lets every method see all your "
            f"training rows {plan.get('target_epochs', 3):g} times after its sweep")


def with_decision(evidence: ProbeEvidence, decision: ProbeDecision, ranked: list, kb: KnowledgeBase) -> ProbeEvidence:
    """The evidence as the decision saw it: when the decision model ranked the methods (probes on the target model),
    the leader is the best measured method by its decided score, P(best) and P(within tolerance) are the decision's
    (rules prior included), and paired differences and conclusiveness are taken against that leader."""
    measured, predictions, why_not, suite = decision.context
    by_method = {row.method: row for row in ranked}
    decided = [m for m in measured if by_method.get(m) is not None and by_method[m].p_within_tolerance is not None]
    if not decided:
        return evidence
    leader = next((row.method for row in ranked if row.method in measured and row.feasible), None)
    p_best = {m: by_method[m].probability for m in decided}
    within = {m: by_method[m].p_within_tolerance for m in decided}
    comparisons = _comparisons(measured, leader)
    top = ranked[0].method
    within_for_verdict = {**within, leader: by_method[top].p_within_tolerance} if leader == top else within
    conclusive, reasons, settle = _conclusiveness(leader, within_for_verdict, predictions, why_not, comparisons, suite, kb)
    return evidence.model_copy(update={"leader": leader, "p_best": p_best, "p_within_tolerance": within,
                                       "comparisons": comparisons, "conclusive": conclusive,
                                       "inconclusive_reasons": reasons, "settle": settle})


def fuse_probe_results(suite: SuiteResult, user_n_examples: int, kb: KnowledgeBase, target_params_b: Optional[float] = None,
                       target_architecture: Optional[str] = None, seed: int = 0) -> ProbeEvidence:
    """Measurements, predictions, paired comparisons and decision probabilities for every probed method."""
    return fuse(suite, user_n_examples, kb, target_params_b, target_architecture, seed)[0]


def fuse(suite: SuiteResult, user_n_examples: int, kb: KnowledgeBase, target_params_b: Optional[float] = None,
         target_architecture: Optional[str] = None, seed: int = 0) -> tuple[ProbeEvidence, ProbeDecision]:
    """The evidence for the report, and what the decision model needs (advisor/decision.py)."""
    measured, missing = measure(suite)
    n_eval = suite.evaluation.n_eval_examples if suite.evaluation else max((len(m.per_example) for m in measured.values()), default=0)
    linear, zero = measured.get(Method.LINEAR_PROBE.value), measured.get(Method.ZERO_SHOT.value)
    context = ProbeContext(linear_probe=linear.metric if linear else None, zero_shot=zero.metric if zero else None,
                           n_classes=max(len(suite.data_profile.label_counts), 2), n_eval=n_eval)
    predictions, why_not, what_if = _predictions(measured, user_n_examples, context, kb)
    samples = decision_samples(measured, predictions, kb, seed)
    p_best, within = probabilities(samples, kb.scoring.decision_tolerance)
    leader = max(measured, key=lambda m: (predictions[m].mean if m in predictions else measured[m].metric, within.get(m, 0)),
                 default=None)
    comparisons = _comparisons(measured, leader)
    conclusive, reasons, settle = _conclusiveness(leader, within, predictions, why_not, comparisons, suite, kb)
    methods = [MethodEvidence(
        method=method, measured=round(m.metric, 5), measured_low=_wilson(m.metric, n_eval)[0], measured_high=_wilson(m.metric, n_eval)[1],
        what_was_measured=_what_was_measured(m), steps=m.steps, epochs=None if m.epochs is None else round(m.epochs, 3),
        n_train_examples=m.n_train_examples, learning_rate=m.learning_rate, prediction=predictions.get(method),
        no_prediction_reason=why_not.get(method, ""), what_if=what_if.get(method, []), curve=m.curve, size_points=m.size_points,
        **_trial_facts(m)) for method, m in measured.items()]
    methods += [MethodEvidence(method=x.method, not_measured_reason=x.reason) for x in missing]
    proxy = _proxy(suite, target_params_b, target_architecture, kb)
    expected = {m: predictions[m].mean if m in predictions else measured[m].metric for m in measured}
    decision = ProbeDecision(samples=samples, expected=expected, predicted_sd={m: p.sd for m, p in predictions.items()},
                             proxy_weight=proxy.weight if proxy else None,
                             context=(measured, predictions, why_not, suite))
    return ProbeEvidence(
        metric_name=suite.metric_name, user_n_examples=user_n_examples, evaluation=suite.evaluation, methods=methods,
        comparisons=comparisons, leader=leader, p_best=p_best, p_within_tolerance=within, tolerance=kb.scoring.decision_tolerance,
        conclusive=conclusive, inconclusive_reasons=reasons, settle=settle,
        proxy=proxy,
        baseline_score=context.zero_shot, linear_probe_score=context.linear_probe,
        probe_n_train_examples=max((m.n_train_examples for m in measured.values()), default=0),
        budget_minutes=suite.budget_minutes, budget_steps=suite.budget_steps), decision
