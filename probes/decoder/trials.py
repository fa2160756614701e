"""The probe suite's steps for decoders: evaluators, the prompting trials (zero-shot, measured few-shot), and the
facts the advisor needs to label evidence measured on a proxy (parameter count, architecture)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from knowledge.method import Method
from probes.decoder.in_context import FewShotPrompt, choose_demonstrations, context_window, few_shot_evaluator
from probes.decoder.label_likelihood import LABEL_LIKELIHOOD, LabelLikelihoodEvaluator, LabelScores, label_likelihood_evaluator
from probes.decoder.settings import DecoderSettings
from probes.result import CurvePoint, ProbeStatus, TrialResult


def model_architecture(is_encoder: bool) -> str:
    return "encoder" if is_encoder else "decoder"


def params_b(n_params: int) -> float:
    """Parameter count in billions, as SuiteResult.probed_model_params_b records it."""
    return round(n_params / 1e9, 6)


def uses_label_likelihood(is_encoder: bool, task_kind: str, settings: DecoderSettings) -> bool:
    """Decoder classification goes through the LM head unless the settings ask for a new classification head."""
    return (not is_encoder) and task_kind == "classification" and settings.classification_scoring == LABEL_LIKELIHOOD


def classification_evaluator(base: Any, dataset: Any, settings: DecoderSettings) -> LabelLikelihoodEvaluator:
    """The zero-shot label-likelihood evaluator over a ProbeDataset (indices = dataset row indices)."""
    return label_likelihood_evaluator(base.tokenizer, dataset.texts, dataset.labels, dataset.label_names, settings)


@dataclass(frozen=True)
class PromptingOutcome:
    """A prompting trial and, when it ran, its per-example scores (aligned with the eval indices)."""

    trial: TrialResult
    scores: Optional[LabelScores]


def _timed_trial(method: Method, score: Callable[[], tuple[LabelScores, dict]], n_eval: int, n_params: int,
                 device: str) -> PromptingOutcome:
    from probes.measure import PeakMemory

    started = time.perf_counter()
    meter = PeakMemory(device)
    status, message, curve, config, scores = ProbeStatus.COMPLETE, "", [], {}, None
    try:
        with meter:
            scores, config = score()
        curve = [CurvePoint(step=0, examples_seen=0, tokens_seen=0, train_loss=None,
                            eval_loss=round(scores.mean_gold_label_loss, 5), eval_metric=round(scores.accuracy, 5),
                            wall_time_s=round(time.perf_counter() - started, 3))]
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, never fatal
        status, message = ProbeStatus.FAILED, f"{type(error).__name__}: {error}"[:500]
    trial = TrialResult(trial_id=method.value, method=method.value, phase="baseline", learning_rate=None, data_fraction=1.0,
                        n_train_examples=config.get("k", 0), n_eval_examples=n_eval, seed=0, status=status, message=message,
                        curve=curve, wall_time_s=round(time.perf_counter() - started, 3), peak_memory_gib=meter.peak_gib,
                        trainable_params=0, total_params=n_params, config=config)
    return PromptingOutcome(trial, scores)


def _scoring_config(evaluator: LabelLikelihoodEvaluator, scores: LabelScores) -> dict:
    return {"scoring": "label likelihood through the LM head",
            "label_score": f"{evaluator.settings.label_score_normalisation} log-probability per label token",
            "prompt_tokens_mean": round(scores.mean_prompt_tokens, 2), "prompt_tokens_max": max(scores.prompt_tokens)}


def prompting_trials(model: Any, n_params: int, evaluator: LabelLikelihoodEvaluator, train_indices: Sequence[int],
                     eval_indices: Sequence[int], device: str, settings: DecoderSettings,
                     latency_sensitive: bool = False) -> list[PromptingOutcome]:
    """Zero-shot (instruction only) and measured few-shot (k demonstrations) on the same eval examples."""

    def zero_shot():
        scores = evaluator.score(model, eval_indices, device)
        return scores, {**_scoring_config(evaluator, scores), "k": 0, "baseline": "zero-shot: label names as verbalizers"}

    def few_shot():
        prompt: FewShotPrompt = choose_demonstrations(evaluator, train_indices, eval_indices, settings.few_shot,
                                                      context_window(model), latency_sensitive)
        scores = few_shot_evaluator(evaluator, prompt).score(model, eval_indices, device)
        return scores, {**_scoring_config(evaluator, scores), "k": prompt.k, "per_label": prompt.per_label,
                        "demonstration_indices": prompt.demonstration_indices, "prefix_tokens": prompt.prefix_tokens,
                        "extra_tokens_per_request": prompt.extra_tokens_per_request, "token_budget": prompt.token_budget,
                        "context_window": prompt.context_window, "latency_sensitive": latency_sensitive,
                        **({"note": prompt.note} if prompt.note else {})}

    return [_timed_trial(Method.ZERO_SHOT, zero_shot, len(eval_indices), n_params, device),
            _timed_trial(Method.FEW_SHOT, few_shot, len(eval_indices), n_params, device)]
