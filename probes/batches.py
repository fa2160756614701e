"""Token ids once per suite, and the batches every trial trains on (length-bucketed, so padding stays small)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EncodedData:
    """Token ids per example; labels are class ids (classification) or per-token targets (generation)."""

    task_kind: str
    input_ids: list[list[int]]
    labels: list[Any]
    pad_token_id: int
    padding_side: str
    label_names: list[str] = field(default_factory=list)
    # Left-padded rows whose targets all sit in their last ``target_tail - 1`` tokens (decoders trained on label words):
    # the LM head then only needs the last ``target_tail`` positions (training_loss).
    target_tail: int = 0


def encode_dataset(dataset, tokenizer, max_length: int) -> EncodedData:
    """Tokenise once per suite (not per trial)."""
    if dataset.task_kind == "classification":
        encoded = tokenizer(dataset.texts, truncation=True, max_length=max_length)["input_ids"]
        return EncodedData("classification", encoded, list(dataset.labels), tokenizer.pad_token_id, tokenizer.padding_side,
                           list(dataset.label_names))
    prompts = tokenizer([t + "\n" for t in dataset.texts], add_special_tokens=True)["input_ids"]
    completions = tokenizer(dataset.targets, add_special_tokens=False)["input_ids"]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids, labels = [], []
    for p, c in zip(prompts, completions):
        full = (p + c + eos)[:max_length]
        target = ([-100] * len(p) + c + eos)[:max_length]
        if all(t == -100 for t in target):  # prompt alone fills max_length: keep the end of the prompt
            keep = max_length - min(len(c + eos), max_length // 2)
            full = (p[-keep:] + c + eos)[:max_length]
            target = ([-100] * len(p[-keep:]) + c + eos)[:max_length]
        ids.append(full)
        labels.append(target)
    return EncodedData("generation", ids, labels, tokenizer.pad_token_id, tokenizer.padding_side)


def collate(data: EncodedData, indices: list[int], device: str) -> dict:
    import torch

    width = max(len(data.input_ids[i]) for i in indices)
    ids, mask, labels = [], [], []
    for i in indices:
        seq = data.input_ids[i]
        pad = width - len(seq)
        left = data.padding_side == "left"
        ids.append(([data.pad_token_id] * pad + seq) if left else (seq + [data.pad_token_id] * pad))
        mask.append(([0] * pad + [1] * len(seq)) if left else ([1] * len(seq) + [0] * pad))
        if data.task_kind == "generation":
            target = data.labels[i]
            labels.append(([-100] * pad + target) if left else (target + [-100] * pad))
        else:
            labels.append(data.labels[i])
    return {"input_ids": torch.tensor(ids, device=device), "attention_mask": torch.tensor(mask, device=device),
            "labels": torch.tensor(labels, device=device)}


def bucketed_batches(data: EncodedData, indices: list[int], batch_size: int, rng: random.Random):
    """Endless stream of batches; examples of similar length share a batch to cut padding."""
    while True:
        order = list(indices)
        rng.shuffle(order)
        chunk = batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            block = sorted(order[start:start + chunk], key=lambda i: len(data.input_ids[i]))
            batches += [block[j:j + batch_size] for j in range(0, len(block), batch_size)]
        rng.shuffle(batches)
        yield from batches


def training_loss(model, batch: dict, data: EncodedData):
    """The training loss of one batch. For rows whose targets sit at their end (``data.target_tail``), the logits of
    only the last ``target_tail`` positions are computed (``logits_to_keep``) and the token cross-entropy taken there:
    the same loss as the model's own, without projecting every position onto the vocabulary (the LM head is a large
    share of a small decoder's compute, and its full logits a large share of a big one's memory)."""
    if not data.target_tail or data.task_kind != "generation" or data.padding_side != "left":
        return model(**batch).loss
    import torch

    k = data.target_tail
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=k).logits[:, -k:, :]
    targets = batch["labels"][:, -k:]
    return torch.nn.functional.cross_entropy(logits[:, :-1, :].reshape(-1, logits.shape[-1]).float(),
                                             targets[:, 1:].reshape(-1), ignore_index=-100)
