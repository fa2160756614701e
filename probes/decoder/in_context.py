"""Measured few-shot prompting: k labelled training examples in the prompt, scored by label likelihood.

The demonstrations are balanced across labels (one round = one example of every label, in a seeded order),
drawn once with a fixed seed from the training split and shared by every evaluation example (as a deployed
few-shot prompt would be). k is the largest number of whole rounds whose prompt fits
min(token cap, the model's context window) while leaving room for the longest evaluation query and label;
the cap is smaller for a latency-sensitive user (knowledge/probes.yaml, ``decoder.few_shot``). The measured
prompt length in tokens is the method's per-request cost.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from probes.decoder.label_likelihood import LabelLikelihoodEvaluator
from probes.decoder.settings import FewShotSettings


@dataclass(frozen=True)
class FewShotPrompt:
    prefix: str
    demonstration_indices: list[int]
    per_label: int
    prefix_tokens: int
    instruction_tokens: int
    token_budget: int
    context_window: Optional[int]
    note: str = ""

    @property
    def k(self) -> int:
        return len(self.demonstration_indices)

    @property
    def extra_tokens_per_request(self) -> int:
        """Prompt tokens added by the demonstrations, over the zero-shot prompt."""
        return self.prefix_tokens - self.instruction_tokens


def context_window(model: Any) -> Optional[int]:
    """The model's context window in tokens from its config (None when the config does not say)."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def token_budget(settings: FewShotSettings, window: Optional[int], latency_sensitive: bool) -> int:
    cap = settings.max_prompt_tokens_latency_sensitive if latency_sensitive else settings.max_prompt_tokens
    return min(cap, window) if window else cap


def _rounds(evaluator: LabelLikelihoodEvaluator, train_indices: Sequence[int], settings: FewShotSettings) -> list[list[int]]:
    """Balanced rounds of candidate demonstrations (seeded), skipping ones longer than max_demonstration_tokens."""
    rng = random.Random(settings.seed)
    pools: list[list[int]] = []
    for label in range(len(evaluator.prompt.label_names)):
        pool = [i for i in train_indices if evaluator.labels[i] == label
                and len(evaluator.query_ids[i]) + len(evaluator.candidate_ids[label]) <= settings.max_demonstration_tokens]
        rng.shuffle(pool)
        pools.append(pool)
    n_rounds = min([settings.max_per_label] + [len(p) for p in pools])
    rounds = []
    for r in range(n_rounds):
        members = [pool[r] for pool in pools]
        rng.shuffle(members)
        rounds.append(members)
    return rounds


def choose_demonstrations(evaluator: LabelLikelihoodEvaluator, train_indices: Sequence[int],
                          eval_indices: Sequence[int], settings: FewShotSettings, window: Optional[int],
                          latency_sensitive: bool = False) -> FewShotPrompt:
    """Pick k demonstrations (whole balanced rounds) from the training split that fit the token budget."""
    tokenizer, prompt = evaluator.tokenizer, evaluator.prompt
    budget = token_budget(settings, window, latency_sensitive)
    reserve = max(len(evaluator.query_ids[i]) for i in eval_indices) + max(len(c) for c in evaluator.candidate_ids)
    instruction_tokens = len(tokenizer(prompt.instruction, add_special_tokens=True)["input_ids"])
    chosen: list[int] = []
    prefix, prefix_tokens, note = prompt.instruction, instruction_tokens, ""
    for members in _rounds(evaluator, train_indices, settings):
        candidate = prefix + "".join(prompt.demonstration(evaluator.texts[i], evaluator.labels[i]) for i in members)
        n_tokens = len(tokenizer(candidate, add_special_tokens=True)["input_ids"])
        if n_tokens + reserve > budget:
            break
        chosen, prefix, prefix_tokens = chosen + members, candidate, n_tokens
    if not chosen:
        note = (f"no balanced round of demonstrations fits {budget} prompt tokens (longest query + label: {reserve}); "
                "few-shot equals zero-shot here")
    return FewShotPrompt(prefix=prefix, demonstration_indices=chosen, per_label=len(chosen) // len(prompt.label_names),
                         prefix_tokens=prefix_tokens, instruction_tokens=instruction_tokens, token_budget=budget,
                         context_window=window, note=note)


def few_shot_evaluator(evaluator: LabelLikelihoodEvaluator, few_shot: FewShotPrompt) -> LabelLikelihoodEvaluator:
    """The zero-shot evaluator's examples and labels behind the few-shot prefix."""
    return evaluator.with_prefix(few_shot.prefix)
