"""Classification on a causal LM through its LM head (label likelihood, "verbalizers").

Prompt = instruction (naming the labels) + [demonstrations] + "Text: <text>\\nAnswer:"; each label's tokens
(" negative", ...) are scored by their log-likelihood after the prompt, length-normalised as knowledge/probes.yaml
says (``label_score_normalisation``: mean log-probability per label token, or the sum); the prediction is the
argmax. The same scorer rates the untouched model (zero-shot), the model with in-context demonstrations
(few-shot) and models trained by prompt tuning, LoRA or full fine-tuning with the LM loss on the label tokens
after the prompt (``encode_label_targets``), so every method is scored the same way on the same examples.

The older alternative, a freshly initialised sequence-classification head (AutoModelForSequenceClassification),
stays available as ``classification_scoring: sequence_classification_head``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from knowledge.errors import ProbeError
from probes.decoder.scoring import PrefixRunner, continuation_log_probs, next_token_log_probs
from probes.decoder.settings import DecoderSettings

LABEL_LIKELIHOOD = "label_likelihood"
SEQUENCE_CLASSIFICATION_HEAD = "sequence_classification_head"


@dataclass(frozen=True)
class ClassificationPrompt:
    """The instruction, query and label templates of knowledge/probes.yaml, filled for one label set."""

    label_names: tuple[str, ...]
    instruction_template: str
    query_template: str
    label_template: str
    separator: str

    @classmethod
    def from_settings(cls, label_names: Sequence[str], settings: DecoderSettings) -> "ClassificationPrompt":
        return cls(tuple(label_names), settings.instruction, settings.query_template, settings.label_template,
                   settings.demonstration_separator)

    @property
    def instruction(self) -> str:
        return self.instruction_template.format(labels=", ".join(self.label_names))

    def query(self, text: str) -> str:
        return self.query_template.format(text=text)

    def label_text(self, label: int) -> str:
        return self.label_template.format(label=self.label_names[label])

    def demonstration(self, text: str, label: int) -> str:
        return self.query(text) + self.label_text(label) + self.separator


def truncate_texts(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[str]:
    """Cut each text to its first ``max_tokens`` tokens (decoded back to text, so prompts stay strings)."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [t if len(i) <= max_tokens else tokenizer.decode(i[:max_tokens], skip_special_tokens=True)
            for t, i in zip(texts, ids)]


def label_token_ids(tokenizer: Any, prompt: ClassificationPrompt) -> list[list[int]]:
    """Token ids of each label's continuation; labels must tokenise to distinct, non-empty sequences."""
    ids = [tokenizer(prompt.label_text(j), add_special_tokens=False)["input_ids"] for j in range(len(prompt.label_names))]
    empty = [prompt.label_names[j] for j, i in enumerate(ids) if not i]
    if empty:
        raise ProbeError(f"Labels {empty} tokenise to nothing; label-likelihood scoring needs label words.")
    seen: dict[tuple, str] = {}
    for name, i in zip(prompt.label_names, ids):
        if tuple(i) in seen:
            raise ProbeError(f"Labels {seen[tuple(i)]!r} and {name!r} tokenise to the same tokens {list(i)} "
                             "(unknown words?); rename them or use classification_scoring: sequence_classification_head.")
        seen[tuple(i)] = name
    return ids


@dataclass(frozen=True)
class LabelScores:
    """Per-example results, in the order of ``example_ids``."""

    example_ids: list[int]
    label_scores: list[list[float]]
    predictions: list[int]
    correct: list[bool]
    gold_label_loss: list[float] = field(repr=False)
    prompt_tokens: list[int] = field(repr=False)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else 0.0

    @property
    def mean_gold_label_loss(self) -> float:
        return sum(self.gold_label_loss) / len(self.gold_label_loss) if self.gold_label_loss else float("nan")

    @property
    def mean_prompt_tokens(self) -> float:
        return sum(self.prompt_tokens) / len(self.prompt_tokens) if self.prompt_tokens else 0.0


def score_labels(model: Any, tokenizer: Any, prefix_ids: Sequence[int], query_ids: Sequence[Sequence[int]],
                 labels: Sequence[int], candidate_ids: Sequence[Sequence[int]], normalisation: str,
                 batch_size: int, device: str, example_ids: Optional[Sequence[int]] = None) -> LabelScores:
    """Score every label for every query; single-token labels need one forward pass per query."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        runner = PrefixRunner(model, prefix_ids, tokenizer.pad_token_id, device)
        if all(len(c) == 1 for c in candidate_ids):
            token_scores = next_token_log_probs(runner, query_ids, [c[0] for c in candidate_ids], batch_size)
            per_label = [[[s] for s in row] for row in token_scores]
        else:
            pairs = [(q, c) for q in query_ids for c in candidate_ids]
            flat = continuation_log_probs(model, tokenizer.pad_token_id, [p[0] for p in pairs], [p[1] for p in pairs],
                                          batch_size, device, runner=runner)
            k = len(candidate_ids)
            per_label = [flat[i * k:(i + 1) * k] for i in range(len(query_ids))]
    finally:
        model.train(was_training)
    reduce = (lambda lp: sum(lp) / len(lp)) if normalisation == "mean" else sum
    scores = [[reduce(lp) for lp in row] for row in per_label]
    predictions = [max(range(len(row)), key=row.__getitem__) for row in scores]
    gold_loss = [-sum(row[g]) / len(row[g]) for row, g in zip(per_label, labels)]
    return LabelScores(example_ids=list(example_ids if example_ids is not None else range(len(query_ids))),
                       label_scores=scores, predictions=predictions, correct=[p == g for p, g in zip(predictions, labels)],
                       gold_label_loss=gold_loss, prompt_tokens=[len(prefix_ids) + len(q) for q in query_ids])


class LabelLikelihoodEvaluator:
    """Scores any causal LM (untouched, few-shot prefixed, LoRA, prompt-tuned) on dataset examples by index.

    Callable like ``probes.evaluation.evaluate`` — ``(model, data, indices, batch_size, device) -> EvalResult``, loss =
    mean negative log-likelihood per gold-label token, per-example correctness for paired comparisons — and keeps
    the per-example label scores of its latest call in ``last`` (aligned with the indices it was given).
    """

    def __init__(self, tokenizer: Any, prompt: ClassificationPrompt, texts: Sequence[str], labels: Sequence[int],
                 settings: DecoderSettings, prefix: Optional[str] = None):
        self.tokenizer, self.prompt, self.settings = tokenizer, prompt, settings
        self.texts, self.labels = list(texts), list(labels)
        self.prefix = prompt.instruction if prefix is None else prefix
        self.prefix_ids = tokenizer(self.prefix, add_special_tokens=True)["input_ids"] if self.prefix else []
        self.query_ids = tokenizer([prompt.query(t) for t in texts], add_special_tokens=False)["input_ids"]
        self.candidate_ids = label_token_ids(tokenizer, prompt)
        self.last: Optional[LabelScores] = None

    def with_prefix(self, prefix: str) -> "LabelLikelihoodEvaluator":
        """The same examples and labels behind another prefix (e.g. instruction + demonstrations)."""
        other = object.__new__(LabelLikelihoodEvaluator)
        other.__dict__.update(self.__dict__, prefix=prefix, last=None,
                              prefix_ids=self.tokenizer(prefix, add_special_tokens=True)["input_ids"] if prefix else [])
        return other

    def score(self, model: Any, indices: Sequence[int], device: str, batch_size: Optional[int] = None) -> LabelScores:
        self.last = score_labels(model, self.tokenizer, self.prefix_ids, [self.query_ids[i] for i in indices],
                                 [self.labels[i] for i in indices], self.candidate_ids, self.settings.label_score_normalisation,
                                 batch_size or self.settings.score_batch_size, device, example_ids=indices)
        return self.last

    def __call__(self, model: Any, data: Any, indices: Sequence[int], batch_size: int, device: str):
        from probes.evaluation import EvalResult

        scores = self.score(model, indices, device)
        return EvalResult.from_scores([1.0 if ok else 0.0 for ok in scores.correct], scores.mean_gold_label_loss, binary=True)

    def training_data(self):
        """Training rows for the LM loss on the label tokens after the prompt: input = prefix + query + label,
        targets = -100 except on the label tokens. An ``EncodedData`` of per-token targets ("generation" layout)."""
        from probes.batches import EncodedData

        ids, targets = [], []
        for query, label in zip(self.query_ids, self.labels):
            answer = self.candidate_ids[label]
            ids.append(self.prefix_ids + query + answer)
            targets.append([-100] * (len(self.prefix_ids) + len(query)) + answer)
        return EncodedData("generation", ids, targets, self.tokenizer.pad_token_id, "left", list(self.prompt.label_names),
                           target_tail=max(len(c) for c in self.candidate_ids) + 1)


def label_likelihood_evaluator(tokenizer: Any, texts: Sequence[str], labels: Sequence[int], label_names: Sequence[str],
                               settings: DecoderSettings) -> LabelLikelihoodEvaluator:
    """The zero-shot evaluator for a dataset: texts cut to ``max_text_tokens``, prefix = the instruction."""
    prompt = ClassificationPrompt.from_settings(label_names, settings)
    return LabelLikelihoodEvaluator(tokenizer, prompt, truncate_texts(tokenizer, texts, settings.max_text_tokens), labels, settings)
