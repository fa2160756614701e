"""What users judge generation by: greedy generations scored by exact match and ROUGE-L, plus completion loss.

Each probed model (untouched, prompt-tuned, LoRA, ...) generates greedily for the same capped set of evaluation
examples (``decoder.generation.max_examples``), each with at most
min(max_new_tokens, reference tokens x reference_length_factor + 4) new tokens, so the probe stays in budget.
Scores are per example, aligned with ``example_ids``, for paired comparison.

- exact match: generation == reference after stripping and collapsing whitespace (case-sensitive);
- ROUGE-L F1 (Lin 2004) from the ``rouge-score`` package, on lower-cased Unicode word tokens (its default
  tokenizer drops every non-ASCII character, which would score non-English text 0);
- completion loss: mean negative log-likelihood per reference token (completion + end-of-sequence) after the
  prompt, teacher-forced — the same targets the probes train on.
Prompts are laid out as the probes train on generation data (probes.run.encode_dataset): prompt + "\\n".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from probes.decoder.scoring import continuation_log_probs
from probes.decoder.settings import GenerationSettings

PROMPT_SUFFIX = "\n"  # as probes.run.encode_dataset lays out generation examples


@dataclass(frozen=True)
class GenerationScores:
    example_ids: list[int]
    generations: list[str]
    exact_match: list[float]
    rouge_l: list[float]
    completion_loss: list[float]
    max_new_tokens: list[int]

    @staticmethod
    def _mean(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else float("nan")

    def to_result(self, n_samples: int = 3):
        """The frozen record a TrialResult carries (probes.result.GenerationMetrics)."""
        from probes.result import GenerationMetrics

        return GenerationMetrics(example_ids=self.example_ids, exact_match=self.exact_match, rouge_l=self.rouge_l,
                                 completion_loss=[round(v, 5) for v in self.completion_loss], max_new_tokens=self.max_new_tokens,
                                 samples=self.generations[:n_samples])

    def summary(self) -> dict[str, float]:
        return {"exact_match": self._mean(self.exact_match), "rouge_l": self._mean(self.rouge_l),
                "completion_loss": self._mean(self.completion_loss), "n_examples": float(len(self.example_ids))}


class _WordTokenizer:
    """Lower-cased Unicode word tokens for rouge-score (which calls ``tokenize``)."""

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())


def exact_match(prediction: str, reference: str) -> float:
    return float(" ".join(prediction.split()) == " ".join(reference.split()))


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_WordTokenizer())
    scores = []
    for p, r in zip(predictions, references):
        if not _WordTokenizer().tokenize(p) and not _WordTokenizer().tokenize(r):
            scores.append(1.0)  # both empty of words: identical for this metric
        else:
            scores.append(scorer.score(r, p)["rougeL"].fmeasure)
    return scores


def _prompt_ids(tokenizer: Any, prompts: Sequence[str], max_prompt_tokens: int) -> list[list[int]]:
    ids = tokenizer([p + PROMPT_SUFFIX for p in prompts], add_special_tokens=True)["input_ids"]
    return [i[-max_prompt_tokens:] for i in ids]  # keep the end of a long prompt, next to the answer


def greedy_generations(model: Any, tokenizer: Any, prompt_ids: Sequence[Sequence[int]], max_new: Sequence[int],
                       batch_size: int, device: str) -> list[str]:
    import torch

    from probes.decoder.scoring import left_pad

    order = sorted(range(len(prompt_ids)), key=lambda i: (max_new[i], len(prompt_ids[i])))
    texts = [""] * len(prompt_ids)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            ids, mask = left_pad([prompt_ids[i] for i in batch], tokenizer.pad_token_id, device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max(max_new[i] for i in batch),
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = out[:, -(out.shape[1] - ids.shape[1]):] if out.shape[1] > ids.shape[1] else out[:, :0]
            for b, i in enumerate(batch):
                texts[i] = tokenizer.decode(new[b, :max_new[i]], skip_special_tokens=True).strip()
    return texts


def generation_scores(model: Any, tokenizer: Any, prompts: Sequence[str], references: Sequence[str],
                      example_ids: Sequence[int], settings: GenerationSettings, device: str,
                      max_prompt_tokens: int) -> GenerationScores:
    """Greedy generations and their scores for at most ``settings.max_examples`` of the given examples."""
    ids = list(example_ids)[: settings.max_examples]
    prompt_ids = _prompt_ids(tokenizer, [prompts[i] for i in ids], max_prompt_tokens)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    reference_ids = [tokenizer(references[i], add_special_tokens=False)["input_ids"] + eos for i in ids]
    max_new = [min(settings.max_new_tokens, math.ceil(len(r) * settings.reference_length_factor) + 4) for r in reference_ids]
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        generations = greedy_generations(model, tokenizer, prompt_ids, max_new, settings.batch_size, device)
        log_probs = continuation_log_probs(model, tokenizer.pad_token_id, prompt_ids, reference_ids, settings.batch_size, device)
    finally:
        model.train(was_training)
    refs = [references[i] for i in ids]
    return GenerationScores(example_ids=ids, generations=generations,
                            exact_match=[exact_match(g, r) for g, r in zip(generations, refs)],
                            rouge_l=rouge_l(generations, refs),
                            completion_loss=[-sum(lp) / len(lp) for lp in log_probs], max_new_tokens=max_new)
