"""The methods measured without gradient training, on the same evaluation examples as the trained ones:
zero-shot (no training at all), few-shot prompting (decoders) and the linear probe (a head fitted on frozen features).
Each becomes a TrialResult with per-example correctness, so any of them can win the comparison."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional, Sequence

from knowledge.method import Method
from probes.evaluation import EvalResult
from probes.result import CurvePoint, Phase, ProbeStatus, TrialResult, pack_correct


def reference_trial(method: Method, phase: Phase, measure: Callable[[], tuple[EvalResult, dict]], n_train: int,
                    n_params: int, device: str, **record: Any) -> TrialResult:
    """Run ``measure`` (-> its EvalResult and config) timed and memory-metered; any failure becomes a recorded state."""
    from probes.measure import PeakMemory

    started = time.perf_counter()
    meter = PeakMemory(device)
    status, message, curve, config = ProbeStatus.COMPLETE, "", [], {}
    try:
        with meter:
            result, config = measure()
        curve = [point_from_eval(result, step=0, examples_seen=0, tokens_seen=0, train_loss=None,
                                 wall_time_s=time.perf_counter() - started)]
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, never fatal
        status, message = ProbeStatus.FAILED, f"{type(error).__name__}: {error}"[:500]
    n_eval = curve[0].n_eval_examples if curve else len(record.get("eval_example_ids") or [])
    return TrialResult(trial_id=method.value + (f"-fold{record['fold']}r{record['repeat']}" if record.get("fold") is not None else ""),
                       method=method.value, phase=phase, learning_rate=None, data_fraction=1.0,
                       n_train_examples=config.get("n_train_examples", n_train), n_eval_examples=n_eval or 0,
                       seed=0, status=status, message=message, curve=curve, wall_time_s=round(time.perf_counter() - started, 3),
                       peak_memory_gib=meter.peak_gib, trainable_params=config.pop("trainable_params", 0),
                       total_params=n_params, config=config, **record)


def point_from_eval(result: EvalResult, *, step: int, examples_seen: int, tokens_seen: int, train_loss: Optional[float],
                    wall_time_s: float) -> CurvePoint:
    """A curve point with the per-example results (bits for classification, scores for generation)."""
    finite_loss = None if result.loss is None or math.isnan(result.loss) else round(result.loss, 5)
    return CurvePoint(step=step, examples_seen=examples_seen, tokens_seen=tokens_seen,
                      train_loss=None if train_loss is None else round(train_loss, 5), eval_loss=finite_loss,
                      eval_metric=round(result.metric, 5), wall_time_s=round(wall_time_s, 3),
                      n_eval_examples=len(result.per_example),
                      correct_bits=pack_correct([v >= 0.5 for v in result.per_example]) if result.binary else None,
                      example_scores=None if result.binary else [round(v, 4) for v in result.per_example])


def _encoder_zero_shot(base, data, eval_ids: Sequence[int], features, batch_size: int, device: str) -> tuple[EvalResult, dict]:
    from probes.methods.prompting import embedding_similarity_predictions

    predicted = embedding_similarity_predictions(base.model, base.tokenizer, data, features, data.label_names, batch_size, device)
    correct = [float(p == data.labels[i]) for p, i in zip(predicted, eval_ids)]
    return EvalResult.from_scores(correct, float("nan"), binary=True), {
        "baseline": "zero-shot: cosine similarity of mean-pooled text and label-name embeddings"}


def linear_probe_rows(n_train: int, settings, seconds_per_example: Optional[float], budget_s: Optional[float]) -> int:
    """How many training rows the linear probe embeds: all of them up to ``max_train_examples``, fewer when a minutes
    budget cannot pay for embedding them (its share of the budget / measured seconds per example)."""
    rows = min(n_train, settings.linear_probe.max_train_examples)
    if budget_s is not None and seconds_per_example:
        rows = min(rows, max(settings.linear_probe.min_train_examples, int(budget_s * settings.linear_probe.budget_share / seconds_per_example)))
    return max(1, rows)


def _linear_probe(base, data, train_ids: Sequence[int], eval_ids: Sequence[int], eval_features, settings, batch_size: int,
                  device: str, deadline: Optional[float], cache: dict, rows: Optional[int] = None) -> tuple[EvalResult, dict]:
    """Fit on the first ``rows`` training rows (default all); features of the training rows are computed once."""
    import numpy as np

    from probes.methods.head import fit_linear_probe, frozen_features

    if "train" not in cache:
        cache["train"] = frozen_features(base.model, data, list(train_ids), batch_size, device)
    rows = len(train_ids) if rows is None else rows
    x_train, train_ids = cache["train"][:rows], list(train_ids)[:rows]
    y_train = np.array([data.labels[i] for i in train_ids])
    model, config = fit_linear_probe(x_train, y_train, settings.linear_probe, deadline)
    predicted = model.predict(eval_features)
    correct = [float(p == data.labels[i]) for p, i in zip(predicted, eval_ids)]
    trainable = int(x_train.shape[1] * (len(data.label_names) if len(data.label_names) > 2 else 1) + len(data.label_names))
    return EvalResult.from_scores(correct, float("nan"), binary=True), {
        "reference": "logistic regression on standardised frozen mean-pooled features", "n_train_examples": len(train_ids),
        "trainable_params": trainable, **config}


def reference_trials(base, data, dataset, train_ids: Sequence[int], eval_ids: Sequence[int], settings, decoder, device: str,
                     batch_size: int, latency_sensitive: bool = False, deadline: Optional[float] = None,
                     budget_s: Optional[float] = None, **record: Any) -> list[TrialResult]:
    """Zero-shot, few-shot (decoders classifying on the LM head) and the linear probe (classification), on ``eval_ids``.
    ``budget_s``: the suite's minutes budget in seconds (None: a step budget), which bounds how many training rows the
    linear probe embeds; ``deadline``: perf_counter time after which its fit is not started."""
    from probes.methods.head import frozen_features

    trials: list[TrialResult] = []
    base.model.to(device)
    try:
        if decoder.label_evaluator is not None:  # decoders: zero-shot and few-shot through the LM head
            trials += decoder.prompting_trials(train_ids, eval_ids, device, latency_sensitive, **record)
        if data.task_kind != "classification":
            trials.append(decoder.with_generation(reference_trial(  # the untouched model: token accuracy, generations
                Method.ZERO_SHOT, Phase.BASELINE, lambda: _untrained_generation(base, data, eval_ids, batch_size, device),
                0, base.n_params, device, **record), base.model, eval_ids, device))
            return trials
        cache: dict = {}

        def eval_features():
            if "eval" not in cache:
                started = time.perf_counter()
                cache["eval"] = frozen_features(base.model, data, list(eval_ids), batch_size, device)
                cache["seconds_per_example"] = (time.perf_counter() - started) / max(len(eval_ids), 1)
            return cache["eval"]

        def linear_probe(fraction: float = 1.0):
            features = eval_features()
            rows = linear_probe_rows(len(train_ids), settings, cache["seconds_per_example"], budget_s)
            chosen = list(train_ids)[:rows]
            return _linear_probe(base, data, chosen, eval_ids, features, settings, batch_size, device, deadline, cache,
                                 max(2, round(rows * fraction)))

        if decoder.label_evaluator is None:
            trials.append(reference_trial(Method.ZERO_SHOT, Phase.BASELINE, lambda: _encoder_zero_shot(
                base, data, eval_ids, eval_features(), batch_size, device), 0, base.n_params, device, **record))
        trials.append(reference_trial(Method.LINEAR_PROBE, Phase.REFERENCE, linear_probe, len(train_ids), base.n_params,
                                      device, **record))
        if not record and trials[-1].status == ProbeStatus.COMPLETE:  # its learning curve: smaller training sets, cheap
            for fraction in settings.linear_probe.curve_fractions:
                trial = reference_trial(Method.LINEAR_PROBE, Phase.REFERENCE, lambda f=fraction: linear_probe(f),
                                        len(train_ids), base.n_params, device)
                trials.append(trial.model_copy(update={"trial_id": f"linear_probe-{trial.n_train_examples}",
                                                       "data_fraction": fraction}))
    finally:
        base.model.to("cpu")
    return trials


def _untrained_generation(base, data, eval_ids, batch_size: int, device: str) -> tuple[EvalResult, dict]:
    from probes.evaluation import evaluate

    return evaluate(base.model, data, list(eval_ids), batch_size, device), {
        "baseline": "the untouched model: next-token accuracy on the completions"}
