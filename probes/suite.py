"""run_suite(): baseline, learning-rate sweep, then data-fraction curves for each method, within a time budget."""
from __future__ import annotations

import hashlib
import math
import os
import platform
import random
import time
from importlib import metadata
from typing import Any, Callable, Optional, Union

from knowledge.errors import ProbeError
from probes.data import ProbeDataset, load_dataset, split_dataset
from probes.result import CurvePoint, DataProfile, ProbeStatus, SuiteResult, TrialResult
from probes.settings import ProbeSettings, probe_settings
from probes.store import cache_key, load_cached, save_cached

ProgressCallback = Callable[[dict[str, Any]], None]


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "accelerate", "scikit-learn", "tuning-advisor"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _data_hash(dataset: ProbeDataset) -> str:
    digest = hashlib.sha256()
    for text, label in zip(dataset.texts, dataset.labels or dataset.targets):
        digest.update(text.encode("utf-8", "replace") + b"\x00" + str(label).encode("utf-8", "replace") + b"\x01")
    return digest.hexdigest()


def _device_description(device: str) -> str:
    import torch

    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _profile(dataset: ProbeDataset, data, split) -> DataProfile:
    import numpy as np

    lengths = np.array([len(ids) for ids in data.input_ids])
    train_texts = {dataset.texts[i] for i in split.train_indices}
    overlap = sum(1 for i in split.eval_indices if dataset.texts[i] in train_texts)
    counts: dict[str, int] = {}
    for label in dataset.labels:
        name = dataset.label_names[label]
        counts[name] = counts.get(name, 0) + 1
    warnings = list(dataset.warnings)
    if overlap:
        warnings.append(f"{overlap} eval text(s) also appear in train with a different label/completion.")
    if counts and min(counts.values()) < 0.05 * sum(counts.values()):
        warnings.append(f"Imbalanced labels: smallest class has {min(counts.values())} of {sum(counts.values())} examples.")
    return DataProfile(
        n_rows=dataset.n_rows, n_train=len(split.train_indices), n_eval=len(split.eval_indices), task_kind=dataset.task_kind,
        label_counts=counts, token_length_p50=float(np.percentile(lengths, 50)), token_length_p90=float(np.percentile(lengths, 90)),
        token_length_p99=float(np.percentile(lengths, 99)), n_duplicates=dataset.n_dropped_rows, n_train_eval_overlap=overlap,
        n_dropped_rows=dataset.n_dropped_rows, warnings=warnings,
    )


def _frozen_features(base, data, indices, batch_size: int, device: str):
    """Mean-pooled last hidden states of the frozen model (what sentence encoders are trained to produce)."""
    import numpy as np
    import torch

    from probes.run import collate

    model = base.model
    rows = []
    with torch.inference_mode():
        for start in range(0, len(indices), batch_size * 2):
            batch = collate(data, indices[start:start + batch_size * 2], device)
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
            hidden = out.hidden_states[-1].float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy())
    return np.concatenate(rows)


def _unit_rows(matrix):
    import numpy as np

    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def _frozen_trials(base, data, split, batch_size: int, device: str, zero_shot: bool = True) -> list[TrialResult]:
    """Two references with the language model untouched:
    - frozen_baseline (no training at all): classification by similarity of each text's embedding to the embedding
      of each label name (zero-shot); for generation, the frozen model's next-token accuracy on the completions.
    - linear_probe (classification only): logistic regression on frozen features; it trains a linear head, so it
      is a cheap adaptation method in its own right, reported for reference.
    """
    import numpy as np

    from probes.measure import PeakMemory
    from probes.run import EncodedData, evaluate

    results = []
    specs = ([("frozen_baseline", "baseline")] if zero_shot else []) + (
        [("linear_probe", "reference")] if data.task_kind == "classification" else [])
    cache: dict = {}
    base.model.to(device)
    for method, phase in specs:
        started = time.perf_counter()
        meter = PeakMemory(device)
        status, message, curve, config = ProbeStatus.COMPLETE, "", [], {}
        try:
            with meter:
                if data.task_kind == "generation":
                    metric, loss = evaluate(base.model, data, split.eval_indices, batch_size, device)
                    config = {"baseline": "frozen model, zero-shot next-token accuracy on the completions"}
                else:
                    loss = None
                    if "eval" not in cache:
                        cache["eval"] = _frozen_features(base, data, split.eval_indices, batch_size, device)
                    y_eval = np.array([data.labels[i] for i in split.eval_indices])
                    if method == "frozen_baseline":
                        names = base.tokenizer(data.label_names, add_special_tokens=True)["input_ids"]
                        label_data = EncodedData("classification", names, list(range(len(names))), data.pad_token_id, data.padding_side)
                        label_vectors = _frozen_features(base, label_data, list(range(len(names))), batch_size, device)
                        predicted = (_unit_rows(cache["eval"]) @ _unit_rows(label_vectors).T).argmax(1)
                        config = {"baseline": "zero-shot: cosine similarity of mean-pooled text and label-name embeddings"}
                    else:
                        from sklearn.linear_model import LogisticRegression

                        x_train = _frozen_features(base, data, split.train_indices, batch_size, device)
                        y_train = np.array([data.labels[i] for i in split.train_indices])
                        predicted = LogisticRegression(max_iter=2000).fit(x_train, y_train).predict(cache["eval"])
                        config = {"reference": "logistic regression on frozen mean-pooled features"}
                    metric = float((predicted == y_eval).mean())
                curve = [CurvePoint(step=0, examples_seen=0, tokens_seen=0, train_loss=None,
                                    eval_loss=None if loss is None or math.isnan(loss) else round(loss, 5),
                                    eval_metric=round(metric, 5), wall_time_s=round(time.perf_counter() - started, 3))]
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - recorded, never fatal
            status, message = ProbeStatus.FAILED, f"{type(error).__name__}: {error}"[:500]
        results.append(TrialResult(
            trial_id=method, method=method, phase=phase, learning_rate=None, data_fraction=1.0,
            n_train_examples=len(split.train_indices) if method == "linear_probe" else 0, n_eval_examples=len(split.eval_indices),
            seed=0, status=status, message=message, curve=curve, wall_time_s=round(time.perf_counter() - started, 3),
            peak_memory_gib=meter.peak_gib, trainable_params=0, total_params=base.n_params, config=config))
    base.model.to("cpu")
    return results


class _Progress:
    def __init__(self, progress: Union[bool, ProgressCallback, None]):
        self.callback = progress if callable(progress) else None
        self.bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="step", desc="probe", dynamic_ncols=True)

    def plan(self, n_steps: int, phase: str) -> None:
        if self.bar is not None:
            self.bar.total = (self.bar.total or 0) + n_steps
            self.bar.set_description(f"probe: {phase}")
            self.bar.refresh()
        if self.callback:
            self.callback({"event": "plan", "phase": phase, "n_steps": n_steps})

    def step(self, trial_id: str, step: int, n_steps: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(trial_id, refresh=False)
        if self.callback:
            self.callback({"event": "step", "trial_id": trial_id, "step": step, "n_steps": n_steps})

    def trial_done(self, trial: TrialResult) -> None:
        if self.callback:
            self.callback({"event": "trial", "trial": trial})
        elif self.bar is not None:
            self.bar.write(f"  {trial.trial_id}: {trial.status.value}, {trial.method} "
                           f"{'' if trial.final_metric is None else f'metric {trial.final_metric:.3f}'} {trial.message}".rstrip())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_suite(
    dataset: Union[ProbeDataset, "pandas.DataFrame", str],  # noqa: F821
    model: Optional[str] = None,
    budget_minutes: float = 5.0,
    *,
    gguf_file: Optional[str] = None,
    methods: Optional[list[str]] = None,
    trust_remote_code: bool = False,
    cache_dir: Optional[str] = ".tuning_advisor_cache",
    progress: Union[bool, ProgressCallback, None] = False,
    should_cancel: Callable[[], bool] = lambda: False,
    save_best_adapter: Optional[str] = None,
    seed: int = 0,
    latency_sensitive: bool = False,
    settings: Optional[ProbeSettings] = None,
) -> SuiteResult:
    """Probe prompt tuning against LoRA (and full fine-tuning for small models) on the user's data.

    ``dataset``: a ProbeDataset, a DataFrame or a CSV/JSONL path (columns are guessed; use probes.data.load_dataset
    to name them). ``model``: hub id, local directory or GGUF directory; None uses the offline default (MiniLM).
    Decoders classify through the LM head (label likelihood, probes.decoder) with measured zero-shot and few-shot
    prompting (fewer demonstrations when ``latency_sensitive``); generation data gets generation metrics.
    """
    import torch
    from accelerate import Accelerator

    from probes.decoder.hooks import DecoderHooks, lm_head_requested
    from probes.models import load_base_model, resolve_device
    from probes.run import TrialSpec, encode_dataset, run_trial

    settings = settings or probe_settings()
    if budget_minutes <= 0:
        raise ProbeError(f"budget_minutes must be greater than 0, got {budget_minutes!r}.")
    if not isinstance(dataset, ProbeDataset):
        dataset = load_dataset(dataset)
    if model is None:
        from probes.defaults import default_model_dir

        model = str(default_model_dir())
    started = time.perf_counter()
    budget_s = budget_minutes * 60
    device = resolve_device()
    random.seed(seed)
    torch.manual_seed(seed)

    split = split_dataset(dataset, settings.eval_fraction, settings.eval_min_examples, settings.eval_max_examples,
                          settings.min_train_examples, seed)
    # Look the cache up before loading the model: a repeated question costs neither a model load nor training.
    key = cache_key({"data": _data_hash(dataset), "model": model, "gguf_file": gguf_file, "settings": settings.model_dump(),
                     "budget": budget_minutes, "methods": methods, "seed": seed, "versions": _versions(), "device": device,
                     "latency_sensitive": latency_sensitive})
    cached = load_cached(cache_dir, key)
    if cached is not None and not save_best_adapter:
        return cached
    base = load_base_model(model, dataset.task_kind, max(len(dataset.label_names), 2), gguf_file, trust_remote_code,
                           lm_head=lm_head_requested(dataset.task_kind, settings))
    data = encode_dataset(dataset, base.tokenizer, settings.max_length_tokens)
    profile = _profile(dataset, data, split)
    decoder = DecoderHooks.build(base, dataset, data, settings)
    batch_size = settings.batch_size["cuda" if device == "cuda" else "cpu"]
    if methods is None:
        methods = ["prompt_tuning", "lora"]
        if base.n_params / 1e9 <= settings.full_finetune_max_params_b["cuda" if device == "cuda" else "cpu"]:
            methods.append("full_finetune")

    accelerator = Accelerator(cpu=device == "cpu")
    reporter = _Progress(progress)
    trials: list[TrialResult] = []
    selected: dict[str, float] = {}
    suite_deadline = started + budget_s

    def record(trial: TrialResult) -> TrialResult:
        trials.append(trial)
        reporter.trial_done(trial)
        return trial

    try:
        for trial in _frozen_trials(base, data, split, batch_size, device, zero_shot=decoder.label_evaluator is None):
            record(decoder.with_generation(trial, base.model, split.eval_indices, device) if trial.phase == "baseline" else trial)
        for trial in decoder.prompting_trials(split, device, latency_sensitive):
            record(trial)

        # 1. Learning-rate sweep: short runs on all training data, scored on a fixed eval subset.
        sweep_eval = split.eval_indices[: settings.sweep_eval_examples]
        sweep_trials = [(m, lr) for m in methods for lr in settings.learning_rate_grids[m]]
        sweep_budget = max(budget_s * settings.sweep_budget_share - (time.perf_counter() - started), budget_s * 0.1)
        reporter.plan(len(sweep_trials) * settings.sweep_steps, "learning-rate sweep")
        per_sweep_s = sweep_budget / len(sweep_trials)
        seconds_per_step: dict[str, list[float]] = {m: [] for m in methods}
        for method, lr in sweep_trials:
            trial = record(run_trial(
                TrialSpec(f"sweep-{method}-lr{lr:g}", method, "lr_sweep", lr, 1.0, split.train_indices, sweep_eval,
                          settings.sweep_steps, 1, seed),
                base, decoder.train_data, settings, device, batch_size, time.perf_counter() + per_sweep_s, accelerator, should_cancel,
                reporter.step, evaluate_fn=decoder.evaluator(1)))
            if trial.curve:
                seconds_per_step[method].append(trial.wall_time_s / max(trial.curve[-1].step, 1))
        for method in methods:
            candidates = [t for t in trials if t.phase == "lr_sweep" and t.method == method and t.curve and t.status != ProbeStatus.FAILED]
            if candidates:
                top = max(t.final_metric for t in candidates)
                standard_error = math.sqrt(max(top * (1 - top), 1e-4) / max(len(sweep_eval), 1))
                close = [t for t in candidates if t.final_metric >= top - settings.lr_tie_standard_errors * standard_error]
                # within noise of the best score, the lower training loss is the steadier signal
                selected[method] = min(close, key=lambda t: (t.curve[-1].train_loss if t.curve[-1].train_loss is not None
                                                             else float("inf"), t.learning_rate)).learning_rate
        if should_cancel():
            raise KeyboardInterrupt

        # 2. Data-fraction curves: same epochs (token budget) for every method, sized to fit what is left.
        remaining = suite_deadline - time.perf_counter()
        n_train = len(split.train_indices)
        fractions = settings.data_fractions
        cost_per_epoch = sum(
            (sum(seconds_per_step[m]) / len(seconds_per_step[m])) * sum(f * n_train for f in fractions) / batch_size
            for m in selected if seconds_per_step[m]
        )
        epochs = settings.curve_epochs_min
        if cost_per_epoch > 0:
            epochs = min(settings.curve_epochs_max, max(settings.curve_epochs_min, 0.8 * remaining / cost_per_epoch))
        order = list(split.train_indices)
        random.Random(seed).shuffle(order)
        plan = []
        for method in selected:
            for fraction in fractions:
                subset = order[: max(batch_size, round(fraction * n_train))]
                n_steps = max(1, math.ceil(len(subset) * epochs / batch_size))
                plan.append((method, fraction, subset, n_steps))
        reporter.plan(sum(p[3] for p in plan), f"learning curves ({epochs:.2f} epochs per fraction)")
        planned_cost = {id(p): p[3] * (sum(seconds_per_step[p[0]]) / max(len(seconds_per_step[p[0]]), 1) or 1.0) for p in plan}
        total_cost = sum(planned_cost.values()) or 1.0
        for item in plan:
            method, fraction, subset, n_steps = item
            remaining = suite_deadline - time.perf_counter()
            allowance = max(remaining, 0) * planned_cost[id(item)] / total_cost * 1.5
            total_cost -= planned_cost[id(item)]
            save_to = os.path.join(save_best_adapter, method) if save_best_adapter and fraction == max(fractions) else None
            n_points = settings.eval_points_per_trial if fraction == max(fractions) else 1
            record(decoder.finish(run_trial(
                TrialSpec(f"curve-{method}-{int(fraction * 100)}pct", method, "curve", selected[method], fraction, subset,
                          split.eval_indices, n_steps, n_points, seed),
                base, decoder.train_data, settings, device, batch_size, time.perf_counter() + max(allowance, 1.0), accelerator,
                should_cancel, reporter.step, save_to,
                evaluate_fn=decoder.evaluator(n_points, with_generation=fraction == max(fractions)))))
    except KeyboardInterrupt:
        if not should_cancel():
            raise
    finally:
        reporter.close()

    result = SuiteResult(
        task_kind=dataset.task_kind, metric_name="accuracy" if dataset.task_kind == "classification" else "token_accuracy",
        model=base.name, device=_device_description(device), data_profile=profile, trials=trials,
        gpu_memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1) if device == "cuda" else 0.0,
        selected_learning_rates=selected, budget_minutes=budget_minutes, **decoder.model_facts(),
        wall_time_s=round(time.perf_counter() - started, 3), package_versions=_versions(), cache_key=key,
    )
    if not should_cancel():
        save_cached(cache_dir, key, result)
    return result
