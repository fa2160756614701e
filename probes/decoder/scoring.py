"""Log-probabilities of continuations under a causal LM, batched with left padding.

Shared by label-likelihood classification (a label's tokens after a prompt) and completion loss (a reference
completion after its prompt). A long prefix shared by every row (an instruction with in-context demonstrations)
is run once and its key/value cache reused, with position ids continuing after it, so a 1,000-token few-shot
prompt costs one forward pass, not one per example. Models with learned virtual tokens (peft prompt learning)
get the prefix concatenated instead: their virtual tokens must come first.
"""
from __future__ import annotations

import copy
from typing import Any, Optional, Sequence


def is_prompt_learning(model: Any) -> bool:
    config = getattr(model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False))


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: str):
    import torch

    width = max(len(r) for r in rows)
    ids = [[pad_id] * (width - len(r)) + list(r) for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def _forward(model: Any, **inputs):
    """Forward keeping only the last ``logits_to_keep`` logits where the model supports it (saves V x length)."""
    try:
        return model(**inputs)
    except TypeError as error:
        if "logits_to_keep" not in str(error):
            raise
        inputs.pop("logits_to_keep")
        return model(**inputs)


class PrefixRunner:
    """Runs rows after a fixed token prefix and returns log-softmax over the vocabulary at each row's last
    ``keep`` positions: tensor [rows, keep, vocab]."""

    def __init__(self, model: Any, prefix_ids: Sequence[int], pad_id: int, device: str):
        import torch

        self.model, self.prefix_ids, self.pad_id, self.device = model, list(prefix_ids), pad_id, device
        self.cache, self.cache_argument = None, "cache"
        if self.prefix_ids and not is_prompt_learning(model):
            ids = torch.tensor([self.prefix_ids], device=device)
            with torch.inference_mode():
                out = _forward(model, input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1)
            # transformers >= 5.2x names the key/value cache "cache"; earlier versions "past_key_values"
            self.cache_argument = "cache" if "cache" in out.keys() else "past_key_values"
            self.cache = out[self.cache_argument]

    def tail_log_probs(self, rows: Sequence[Sequence[int]], keep: int):
        import torch

        if self.cache is not None:
            ids, mask = left_pad(rows, self.pad_id, self.device)
            past = copy.deepcopy(self.cache)
            past.batch_repeat_interleave(len(rows))
            n_prefix = len(self.prefix_ids)
            positions = n_prefix + (mask.cumsum(-1) - 1).clamp(min=0)
            attention = torch.cat([torch.ones(len(rows), n_prefix, dtype=mask.dtype, device=self.device), mask], dim=1)
            out = _forward(self.model, input_ids=ids, attention_mask=attention, position_ids=positions,
                           use_cache=True, logits_to_keep=keep, **{self.cache_argument: past})
        else:
            ids, mask = left_pad([self.prefix_ids + list(r) for r in rows], self.pad_id, self.device)
            inputs = {"input_ids": ids, "attention_mask": mask, "logits_to_keep": keep}
            if not is_prompt_learning(self.model):  # peft ignores position ids under prompt learning
                inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
            out = _forward(self.model, **inputs)
        return out.logits[:, -keep:, :].float().log_softmax(-1)


def continuation_log_probs(model: Any, pad_id: int, contexts: Sequence[Sequence[int]],
                           continuations: Sequence[Sequence[int]], batch_size: int, device: str,
                           prefix_ids: Sequence[int] = (), runner: Optional[PrefixRunner] = None) -> list[list[float]]:
    """Per-token log p(continuation | prefix + context) for each (context, continuation) pair, in input order."""
    import torch

    if any(len(c) == 0 for c in continuations):
        raise ValueError("every continuation needs at least one token")
    runner = runner or PrefixRunner(model, prefix_ids, pad_id, device)
    rows = [list(ctx) + list(cont[:-1]) for ctx, cont in zip(contexts, continuations)]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    result: list[list[float]] = [[] for _ in rows]
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            keep = max(len(continuations[i]) for i in batch)
            log_probs = runner.tail_log_probs([rows[i] for i in batch], keep)
            for b, i in enumerate(batch):
                target = list(continuations[i])
                tail = log_probs[b, keep - len(target):, :]
                result[i] = tail.gather(-1, torch.tensor(target, device=tail.device)[:, None]).squeeze(-1).tolist()
    return result


def next_token_log_probs(runner: PrefixRunner, contexts: Sequence[Sequence[int]], candidates: Sequence[int],
                         batch_size: int) -> list[list[float]]:
    """log p(candidate token | prefix + context) for every context and candidate: one forward per context."""
    import torch

    order = sorted(range(len(contexts)), key=lambda i: len(contexts[i]))
    result: list[list[float]] = [[] for _ in contexts]
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            log_probs = runner.tail_log_probs([contexts[i] for i in batch], 1)[:, -1, :]
            picked = log_probs[:, list(candidates)].tolist()
            for b, i in enumerate(batch):
                result[i] = picked[b]
    return result
