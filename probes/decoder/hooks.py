"""Where the probe suite plugs decoders in, so that probes/suite.py needs only a few lines:

1. ``lm_head_requested(task_kind, settings)`` -> pass as ``load_base_model(..., lm_head=...)`` (ignored for encoders);
2. ``DecoderHooks.build(base, dataset, data, settings)`` after encoding;
3. ``hooks.prompting_trials(...)`` next to the other references (zero-shot + measured few-shot; decoders only);
4. trials train on ``hooks.train_data`` and are scored by ``hooks.evaluator`` (None: probes.evaluation.evaluate);
   ``hooks.after_training`` scores greedy generations of a trained model (generation data) for its TrialResult;
5. ``hooks.with_generation(trial, model, eval_indices, device)`` for the untouched model on generation data;
6. ``SuiteResult(..., **hooks.model_facts())``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from probes.decoder.label_likelihood import LABEL_LIKELIHOOD
from probes.decoder.settings import DecoderSettings, decoder_settings
from probes.decoder.trials import classification_evaluator, model_architecture, params_b, prompting_trials


def lm_head_requested(task_kind: str, settings: Any) -> bool:
    """Classification on a decoder through the LM head (label likelihood) unless probes.yaml asks for a new head."""
    return task_kind == "classification" and decoder_settings(settings).classification_scoring == LABEL_LIKELIHOOD


@dataclass
class DecoderHooks:
    base: Any
    dataset: Any
    settings: DecoderSettings
    train_data: Any
    max_prompt_tokens: int
    label_evaluator: Optional[Any] = None

    @classmethod
    def build(cls, base: Any, dataset: Any, data: Any, probe_settings: Any) -> "DecoderHooks":
        """``data``: the suite's encoded data; decoders classifying through the LM head train on label tokens instead."""
        settings = decoder_settings(probe_settings)
        hooks = cls(base, dataset, settings, data, probe_settings.max_length_tokens)
        if getattr(base, "lm_head", False) and dataset.task_kind == "classification":
            hooks.label_evaluator = classification_evaluator(base, dataset, settings)
            hooks.train_data = hooks.label_evaluator.training_data()
        return hooks

    @property
    def evaluator(self) -> Optional[Any]:
        """The evaluator trials are scored with: label likelihood on the LM head, else None (the default evaluate)."""
        return self.label_evaluator

    def model_facts(self) -> dict:
        """SuiteResult fields the advisor needs to label proxy evidence."""
        return {"probed_model_params_b": params_b(self.base.n_params), "model_architecture": model_architecture(self.base.is_encoder)}

    def prompting_trials(self, train_indices: Sequence[int], eval_indices: Sequence[int], device: str,
                         latency_sensitive: bool = False, **record: Any) -> list:
        """Zero-shot and measured few-shot (label likelihood) on the eval examples; empty unless classifying on the LM head.
        The base model must already be on ``device``."""
        if self.label_evaluator is None:
            return []
        return prompting_trials(self.base.model, self.base.n_params, self.label_evaluator, train_indices, eval_indices,
                                device, self.settings, latency_sensitive, **record)

    def after_training(self, model: Any, eval_indices: Sequence[int], device: str) -> dict:
        """TrialResult fields from the trained model before it is freed: generation metrics on generation data."""
        if self.dataset.task_kind != "generation" or self.base.is_encoder:
            return {}
        from probes.decoder.generation_metrics import generation_scores

        scores = generation_scores(model, self.base.tokenizer, self.dataset.texts, self.dataset.targets, eval_indices,
                                   self.settings.generation, device, self.max_prompt_tokens)
        return {"generation": scores.to_result()}

    def with_generation(self, trial: Any, model: Any, eval_indices: Sequence[int], device: str) -> Any:
        """Generation metrics of an untrained model (the zero-shot reference) on generation data."""
        if self.dataset.task_kind != "generation" or self.base.is_encoder or trial.status.value != "complete":
            return trial
        return trial.model_copy(update=self.after_training(model, eval_indices, device))
