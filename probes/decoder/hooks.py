"""Where the probe suite plugs decoders in, so that probes/suite.py needs only a few lines:

1. ``lm_head_requested(task_kind, settings)`` -> pass as ``load_base_model(..., lm_head=...)`` (ignored for encoders);
2. ``DecoderHooks.build(base, dataset, data, settings)`` after encoding;
3. ``hooks.prompting_trials(...)`` next to the frozen references (zero-shot + measured few-shot; decoders only);
4. ``run_trial(..., hooks.train_data, ..., evaluate_fn=hooks.evaluator(n_eval_points))`` then ``hooks.finish(trial)``;
5. ``hooks.with_generation(trial, model, eval_indices, device)`` for the untouched model on generation data;
6. ``SuiteResult(..., **hooks.model_facts())``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

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
    generation_evaluator: Optional[Any] = None

    @classmethod
    def build(cls, base: Any, dataset: Any, data: Any, probe_settings: Any) -> "DecoderHooks":
        """``data``: the suite's encoded data; decoders classifying through the LM head train on label tokens instead."""
        settings = decoder_settings(probe_settings)
        hooks = cls(base, dataset, settings, data, probe_settings.max_length_tokens)
        if getattr(base, "lm_head", False) and dataset.task_kind == "classification":
            hooks.label_evaluator = classification_evaluator(base, dataset, settings)
            hooks.train_data = hooks.label_evaluator.training_data()
        return hooks

    def model_facts(self) -> dict:
        """SuiteResult fields the advisor needs to label proxy evidence."""
        return {"probed_model_params_b": params_b(self.base.n_params), "model_architecture": model_architecture(self.base.is_encoder)}

    def prompting_trials(self, split: Any, device: str, latency_sensitive: bool = False) -> list:
        """Zero-shot and measured few-shot (label likelihood) on the eval split; empty unless classifying on the LM head."""
        if self.label_evaluator is None:
            return []
        self.base.model.to(device)
        try:
            return [o.trial for o in prompting_trials(self.base.model, self.base.n_params, self.label_evaluator, split.train_indices,
                                                      split.eval_indices, device, self.settings, latency_sensitive)]
        finally:
            self.base.model.to("cpu")

    def evaluator(self, n_eval_points: int, with_generation: bool = False) -> Optional[Callable]:
        """The ``evaluate_fn`` for run_trial: label likelihood on the LM head, or (generation data, ``with_generation``)
        next-token accuracy plus greedy generations at the trial's last evaluation point; None = run_trial's default."""
        if self.label_evaluator is not None:
            return self.label_evaluator
        self.generation_evaluator = None
        if with_generation and self.dataset.task_kind == "generation" and not self.base.is_encoder:
            from probes.decoder.generation_metrics import GenerationEvaluator

            self.generation_evaluator = GenerationEvaluator(self.base.tokenizer, self.dataset.texts, self.dataset.targets,
                                                            self.settings.generation, self.max_prompt_tokens, {n_eval_points})
            return self.generation_evaluator
        return None

    def finish(self, trial: Any) -> Any:
        """Attach the generation metrics measured during the trial (generation data), if any."""
        scores = getattr(self.generation_evaluator, "last", None)
        self.generation_evaluator = None
        return trial.model_copy(update={"generation": scores.to_result()}) if scores is not None else trial

    def with_generation(self, trial: Any, model: Any, eval_indices: Sequence[int], device: str) -> Any:
        """Generation metrics of an untrained model (the zero-shot reference) on generation data."""
        if self.dataset.task_kind != "generation" or self.base.is_encoder or trial.status.value != "complete":
            return trial
        from probes.decoder.generation_metrics import generation_scores

        model.to(device)
        try:
            scores = generation_scores(model, self.base.tokenizer, self.dataset.texts, self.dataset.targets, eval_indices,
                                       self.settings.generation, device, self.max_prompt_tokens)
        finally:
            model.to("cpu")
        return trial.model_copy(update={"generation": scores.to_result()})
