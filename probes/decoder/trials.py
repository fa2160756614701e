"""The probe suite's steps for decoders: evaluators, the prompting trials (zero-shot, measured few-shot), and the
facts the advisor needs to label evidence measured on a proxy (parameter count, architecture)."""
from __future__ import annotations

from typing import Any, Sequence

from knowledge.method import Method
from probes.decoder.in_context import FewShotPrompt, choose_demonstrations, context_window, few_shot_evaluator
from probes.decoder.label_likelihood import LABEL_LIKELIHOOD, LabelLikelihoodEvaluator, LabelScores, label_likelihood_evaluator
from probes.decoder.settings import DecoderSettings
from probes.evaluation import EvalResult
from probes.result import Phase, TrialResult


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


def _as_eval(scores: LabelScores) -> EvalResult:
    return EvalResult.from_scores([1.0 if ok else 0.0 for ok in scores.correct], scores.mean_gold_label_loss, binary=True)


def _scoring_config(evaluator: LabelLikelihoodEvaluator, scores: LabelScores) -> dict:
    return {"scoring": "label likelihood through the LM head",
            "label_score": f"{evaluator.settings.label_score_normalisation} log-probability per label token",
            "prompt_tokens_mean": round(scores.mean_prompt_tokens, 2), "prompt_tokens_max": max(scores.prompt_tokens)}


def prompting_trials(model: Any, n_params: int, evaluator: LabelLikelihoodEvaluator, train_indices: Sequence[int],
                     eval_indices: Sequence[int], device: str, settings: DecoderSettings,
                     latency_sensitive: bool = False, **record: Any) -> list[TrialResult]:
    """Zero-shot (instruction only) and measured few-shot (k demonstrations from the training rows) on the same
    evaluation examples; ``record``: extra TrialResult fields (cross-validation fold)."""
    from probes.references import reference_trial

    def zero_shot():
        scores = evaluator.score(model, eval_indices, device)
        return _as_eval(scores), {**_scoring_config(evaluator, scores), "k": 0, "baseline": "zero-shot: label names as verbalizers"}

    def few_shot():
        prompt: FewShotPrompt = choose_demonstrations(evaluator, train_indices, eval_indices, settings.few_shot,
                                                      context_window(model), latency_sensitive)
        scores = few_shot_evaluator(evaluator, prompt).score(model, eval_indices, device)
        return _as_eval(scores), {**_scoring_config(evaluator, scores), "k": prompt.k, "n_train_examples": prompt.k,
                                  "per_label": prompt.per_label, "demonstration_indices": prompt.demonstration_indices,
                                  "prefix_tokens": prompt.prefix_tokens, "extra_tokens_per_request": prompt.extra_tokens_per_request,
                                  "token_budget": prompt.token_budget, "context_window": prompt.context_window,
                                  "latency_sensitive": latency_sensitive, **({"note": prompt.note} if prompt.note else {})}

    return [reference_trial(Method.ZERO_SHOT, Phase.BASELINE, zero_shot, 0, n_params, device, **record),
            reference_trial(Method.FEW_SHOT, Phase.BASELINE, few_shot, 0, n_params, device, **record)]
