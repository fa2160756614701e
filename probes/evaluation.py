"""Score a model on evaluation examples, keeping every example's result so that methods can be compared pairwise.

Every evaluator in the probes (this one, the decoders' label-likelihood and generation evaluators) is a callable
``(model, data, indices, batch_size, device) -> EvalResult``; ``per_example`` follows the order of ``indices``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

from probes.batches import EncodedData, collate


@dataclass(frozen=True)
class EvalResult:
    """metric = mean of per_example: accuracy (1/0 per example) or, for generation, each completion's next-token
    accuracy averaged over examples; loss = mean evaluation loss (nan when the model reports none)."""

    metric: float
    loss: float
    per_example: list[float]
    binary: bool  # per_example holds 1/0 correctness (classification)

    @classmethod
    def from_scores(cls, scores: Sequence[float], loss: float, binary: bool) -> "EvalResult":
        values = [float(v) for v in scores]
        return cls(sum(values) / len(values) if values else 0.0, loss, values, binary)


class Evaluator(Protocol):
    def __call__(self, model, data: EncodedData, indices: Sequence[int], batch_size: int, device: str) -> EvalResult: ...


def _batch_scores(out, batch, task_kind: str) -> list[float]:
    if task_kind == "classification":
        return [1.0 if ok else 0.0 for ok in (out.logits.argmax(-1) == batch["labels"]).tolist()]
    seq = batch["input_ids"].shape[1]
    logits = out.logits[:, -seq:, :]  # drop virtual-token positions (prompt tuning prepends them)
    predicted = logits[:, :-1, :].argmax(-1)
    target = batch["labels"][:, 1:]
    valid = target != -100
    hits = ((predicted == target) & valid).sum(1).tolist()
    counts = valid.sum(1).tolist()
    return [h / c if c else 0.0 for h, c in zip(hits, counts)]


def evaluate(model, data: EncodedData, indices: Sequence[int], batch_size: int, device: str) -> EvalResult:
    """Accuracy (classification) or per-completion next-token accuracy (generation), per example."""
    import torch

    was_training = model.training
    model.eval()
    order = sorted(range(len(indices)), key=lambda j: len(data.input_ids[indices[j]]))  # less padding
    scores: list[Optional[float]] = [None] * len(indices)
    loss_sum, loss_n = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size * 2):
            chunk = order[start:start + batch_size * 2]
            batch = collate(data, [indices[j] for j in chunk], device)
            out = model(**batch)
            if out.loss is not None and torch.isfinite(out.loss):
                loss_sum += float(out.loss) * len(chunk)
                loss_n += len(chunk)
            for j, value in zip(chunk, _batch_scores(out, batch, data.task_kind)):
                scores[j] = value
    model.train(was_training)
    return EvalResult.from_scores(scores, loss_sum / loss_n if loss_n else float("nan"), data.task_kind == "classification")
