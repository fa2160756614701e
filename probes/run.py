"""Run one trial: a live ProbeRun drives the training loop and ends as a frozen TrialResult.

Every trial ends in a recorded state: complete, stopped (diverged, time budget, cancelled),
out_of_memory or failed. Plain PyTorch under ``accelerate`` so ``accelerate launch`` works unchanged.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from probes.measure import PeakMemory
from probes.models import LoadedModel
from probes.result import CurvePoint, ProbeStatus, TrialResult
from probes.settings import ProbeSettings


class ProbeStopped(Exception):
    """Raised inside the loop to end a trial early with status STOPPED."""


@dataclass
class EncodedData:
    """Token ids per example; labels are class ids (classification) or per-token targets (generation)."""

    task_kind: str
    input_ids: list[list[int]]
    labels: list[Any]
    pad_token_id: int
    padding_side: str
    label_names: list[str] = field(default_factory=list)


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


def evaluate(model, data: EncodedData, indices: list[int], batch_size: int, device: str) -> tuple[float, float]:
    """(metric, mean loss): accuracy for classification, next-token accuracy on completion tokens for generation."""
    import torch

    model.eval()
    correct = total = 0
    loss_sum, loss_n = 0.0, 0
    order = sorted(indices, key=lambda i: len(data.input_ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size * 2):
            batch = collate(data, order[start:start + batch_size * 2], device)
            out = model(**batch)
            if out.loss is not None and torch.isfinite(out.loss):
                loss_sum += float(out.loss) * len(batch["labels"])
                loss_n += len(batch["labels"])
            if data.task_kind == "classification":
                correct += int((out.logits.argmax(-1) == batch["labels"]).sum())
                total += len(batch["labels"])
            else:
                seq = batch["input_ids"].shape[1]
                logits = out.logits[:, -seq:, :]  # drop virtual-token positions (prompt tuning prepends them)
                predicted = logits[:, :-1, :].argmax(-1)
                target = batch["labels"][:, 1:]
                valid = target != -100
                correct += int(((predicted == target) & valid).sum())
                total += int(valid.sum())
    model.train()
    return (correct / total if total else 0.0), (loss_sum / loss_n if loss_n else float("nan"))


@dataclass
class TrialSpec:
    trial_id: str
    method: str
    phase: str
    learning_rate: float
    data_fraction: float
    train_indices: list[int]
    eval_indices: list[int]
    n_steps: int
    n_eval_points: int
    seed: int = 0


@dataclass
class ProbeRun:
    """Live handle of one trial: the loop reports into it; it freezes into a TrialResult."""

    spec: TrialSpec
    deadline: float
    should_cancel: Callable[[], bool]
    on_step: Callable[[str, int, int], None]
    curve: list[CurvePoint] = field(default_factory=list)
    step: int = 0
    examples_seen: int = 0
    tokens_seen: int = 0
    first_loss: Optional[float] = None
    smoothed_loss: Optional[float] = None
    started: float = field(default_factory=time.perf_counter)

    def report_loss(self, loss: float, settings: ProbeSettings) -> None:
        if not math.isfinite(loss):
            raise ProbeStopped(f"diverged: training loss became {loss} at step {self.step}")
        self.smoothed_loss = loss if self.smoothed_loss is None else 0.9 * self.smoothed_loss + 0.1 * loss
        if self.first_loss is None:
            self.first_loss = loss
        elif self.step > 10 and self.smoothed_loss > settings.divergence_loss_ratio * self.first_loss:
            raise ProbeStopped(f"diverged: training loss {self.smoothed_loss:.3g} is over {settings.divergence_loss_ratio:g}x its start {self.first_loss:.3g}")

    def check_budget(self) -> None:
        if self.should_cancel():
            raise ProbeStopped("cancelled by the user")
        if time.perf_counter() > self.deadline:
            raise ProbeStopped("time budget for this trial used up")


def _is_oom(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or (isinstance(error, RuntimeError) and "out of memory" in str(error).lower()) \
        or (isinstance(error, RuntimeError) and "can't allocate memory" in str(error).lower())


def run_trial(spec: TrialSpec, base: LoadedModel, data: EncodedData, settings: ProbeSettings, device: str,
              batch_size: int, deadline: float, accelerator, should_cancel: Callable[[], bool] = lambda: False,
              on_step: Callable[[str, int, int], None] = lambda *_: None, save_to: Optional[str] = None,
              evaluate_fn: Optional[Callable] = None) -> TrialResult:
    """Train one method for spec.n_steps and evaluate at evenly spaced points. Never raises (except Ctrl-C).

    ``evaluate_fn`` (default ``evaluate``) scores the model: e.g. label likelihood for decoders (probes.decoder)."""
    import torch

    from probes.methods import adapter_size_mib, build_trial_model, save_adapter

    evaluate_fn = evaluate_fn or evaluate
    run = ProbeRun(spec=spec, deadline=deadline, should_cancel=should_cancel, on_step=on_step)
    status, message = ProbeStatus.COMPLETE, ""
    trainable = total = 0
    adapter_mib = None
    model = optimizer = None
    meter = PeakMemory(device)
    config = {"method": spec.method, "learning_rate": spec.learning_rate, "batch_size": batch_size, "n_steps": spec.n_steps,
              "data_fraction": spec.data_fraction, "head_learning_rate": settings.head_learning_rate,
              "optimizer": "AdamW", "schedule": f"{settings.schedule.get(spec.method, 'linear')} after {settings.warmup_fraction:.0%} warmup",
              "max_grad_norm": settings.max_grad_norm, "seed": spec.seed}
    if spec.method == "prompt_tuning":
        config["num_virtual_tokens"] = settings.virtual_tokens[base.task_kind]
        config["init"] = "text (class-label words)"
    if spec.method == "lora":
        config.update({"lora_" + k: v for k, v in settings.lora.items()}, target_modules="all-linear")
    try:
        with meter:
            torch.manual_seed(spec.seed)
            model, groups = build_trial_model(base, spec.method, settings, data.label_names)
            trainable = sum(p.numel() for g in groups for p in g["params"])
            total = base.n_params
            param_groups = [{"params": g["params"], "lr": spec.learning_rate if g["role"] == "method" else settings.head_learning_rate}
                            for g in groups]
            optimizer = torch.optim.AdamW(param_groups, weight_decay=0.0)
            warmup = max(1, round(settings.warmup_fraction * spec.n_steps))
            decays = settings.schedule.get(spec.method, "linear") == "linear"
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(
                (step + 1) / warmup, max(0.0, (spec.n_steps - step) / max(spec.n_steps - warmup, 1)) if decays else 1.0))
            trainable_list = [p for g in param_groups for p in g["params"]]
            model, optimizer = accelerator.prepare(model, optimizer)
            model.train()
            eval_steps = {max(1, round(spec.n_steps * k / spec.n_eval_points)) for k in range(1, spec.n_eval_points + 1)}
            batches = bucketed_batches(data, spec.train_indices, batch_size, random.Random(spec.seed))
            running = []
            try:
                while run.step < spec.n_steps:
                    run.check_budget()
                    indices = next(batches)
                    batch = collate(data, indices, accelerator.device)
                    loss = model(**batch).loss
                    run.step += 1
                    run.report_loss(float(loss.detach()), settings)
                    accelerator.backward(loss)
                    accelerator.clip_grad_norm_(trainable_list, settings.max_grad_norm)
                    optimizer.step()
                    schedule.step()
                    optimizer.zero_grad(set_to_none=True)
                    running.append(float(loss.detach()))
                    run.examples_seen += len(indices)
                    run.tokens_seen += int(batch["attention_mask"].sum())
                    on_step(spec.trial_id, run.step, spec.n_steps)
                    if run.step in eval_steps:
                        metric, eval_loss = evaluate_fn(model, data, spec.eval_indices, batch_size, accelerator.device)
                        run.curve.append(CurvePoint(step=run.step, examples_seen=run.examples_seen, tokens_seen=run.tokens_seen,
                                                    train_loss=round(sum(running) / len(running), 5), eval_loss=round(eval_loss, 5),
                                                    eval_metric=round(metric, 5), wall_time_s=round(time.perf_counter() - run.started, 3)))
                        running = []
            except ProbeStopped as stop:
                status, message = ProbeStatus.STOPPED, str(stop)
                if "time budget" in message and run.step and (not run.curve or run.curve[-1].step != run.step):
                    metric, eval_loss = evaluate_fn(model, data, spec.eval_indices, batch_size, accelerator.device)
                    run.curve.append(CurvePoint(step=run.step, examples_seen=run.examples_seen, tokens_seen=run.tokens_seen,
                                                train_loss=round(sum(running) / len(running), 5) if running else None,
                                                eval_loss=round(eval_loss, 5), eval_metric=round(metric, 5),
                                                wall_time_s=round(time.perf_counter() - run.started, 3)))
            unwrapped = accelerator.unwrap_model(model)
            adapter_mib = round(adapter_size_mib(unwrapped, spec.method), 4)
            if save_to and run.curve and (status == ProbeStatus.COMPLETE or "time budget" in message):  # trained and evaluated
                save_adapter(unwrapped, save_to)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes a recorded state
        status = ProbeStatus.OUT_OF_MEMORY if _is_oom(error) else ProbeStatus.FAILED
        message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
    finally:
        del model, optimizer
        accelerator.free_memory()
        if device == "cuda":
            torch.cuda.empty_cache()
    return TrialResult(
        trial_id=spec.trial_id, method=spec.method, phase=spec.phase, learning_rate=spec.learning_rate,
        data_fraction=spec.data_fraction, n_train_examples=len(spec.train_indices), n_eval_examples=len(spec.eval_indices),
        seed=spec.seed, status=status, message=message, curve=run.curve, wall_time_s=round(time.perf_counter() - run.started, 3),
        tokens_seen=run.tokens_seen, peak_memory_gib=meter.peak_gib, trainable_params=trainable, total_params=total,
        adapter_size_mib=adapter_mib, config=config,
    )
