"""run_suite(): measure every candidate method on the user's own data and model, on the same evaluation examples.

Steps: split (holdout, or repeated k-fold for tiny data: probes.split) -> the methods measured without gradient
training (zero-shot, few-shot for decoders, the linear probe: probes.references) -> a step plan made once
(probes.plan; a minutes budget becomes steps from measured seconds per step) -> each trained method's sweep and
main trial (probes.method_trials) -> a SuiteResult, cached on disk as JSON.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from knowledge.errors import ProbeError
from probes.data import ProbeDataset, load_dataset
from knowledge.method import Method
from probes.plan import plan_folds, plan_suite
from probes.profile import data_hash, device_description, package_versions, profile_data
from probes.progress import Progress, ProgressCallback
from probes.result import SuiteResult, TrialResult
from probes.settings import ProbeSettings, probe_settings
from probes.split import EvaluationSplit, plan_evaluation
from probes.store import cache_key, load_cached, save_cached



@dataclass
class _Suite:
    """What one suite run holds while it runs."""

    dataset: ProbeDataset
    settings: ProbeSettings
    split: EvaluationSplit
    base: Any
    data: Any
    decoder: Any
    env: Any
    progress: Progress
    started: float
    budget_s: Optional[float]
    budget_steps: Optional[int]
    latency_sensitive: bool
    trials: list[TrialResult]

    def record(self, trial: TrialResult) -> TrialResult:
        self.trials.append(trial)
        self.progress.trial_done(trial)
        return trial


def _validate_budget(budget_minutes: float, budget_steps: Optional[int]) -> None:
    import math

    if not isinstance(budget_minutes, (int, float)) or not math.isfinite(budget_minutes) or budget_minutes <= 0:
        raise ProbeError(f"budget_minutes must be a finite number greater than 0, got {budget_minutes!r}.")
    if budget_steps is not None and (not isinstance(budget_steps, int) or isinstance(budget_steps, bool) or budget_steps < 1):
        raise ProbeError(f"budget_steps must be a whole number of at least 1, got {budget_steps!r}.")


def _trained_methods(methods: Optional[list[str]], n_params: int, device: str, settings: ProbeSettings) -> list[str]:
    from probes.methods import trainable_methods

    if methods is None:  # the defaults, each only when the model is small enough for it on this device
        limits = settings.plan.max_params_b_to_probe
        return [m for m in settings.plan.default_methods
                if m not in limits or n_params / 1e9 <= limits[m]["cuda" if device == "cuda" else "cpu"]]
    measured_anyway = {Method.ZERO_SHOT.value, Method.FEW_SHOT.value, Method.LINEAR_PROBE.value}
    unknown = [m for m in methods if m not in trainable_methods() and m not in measured_anyway]
    if unknown:
        raise ProbeError(f"methods {unknown} cannot be probed; trainable methods: {', '.join(trainable_methods())} "
                         "(zero_shot, few_shot and linear_probe are always measured when they apply).")
    return [m for m in methods if m in trainable_methods()]


def _load(dataset, model, gguf_file, trust_remote_code, settings):
    from probes.batches import encode_dataset
    from probes.decoder.hooks import DecoderHooks, lm_head_requested
    from probes.models import load_base_model

    base = load_base_model(model, dataset.task_kind, max(len(dataset.label_names), 2), gguf_file, trust_remote_code,
                           lm_head=lm_head_requested(dataset.task_kind, settings))
    data = encode_dataset(dataset, base.tokenizer, settings.max_length_tokens)
    return base, data, DecoderHooks.build(base, dataset, data, settings)


def _environment(base, data, decoder, settings, device, progress, should_cancel, deadline):
    from accelerate import Accelerator

    from probes.run import TrialEnvironment

    return TrialEnvironment(base=base, data=decoder.train_data, settings=settings, device=device,
                            batch_size=settings.batch_size["cuda" if device == "cuda" else "cpu"],
                            accelerator=Accelerator(cpu=device == "cpu"), evaluator=decoder.evaluator,
                            after_training=decoder.after_training, on_step=progress.step, should_cancel=should_cancel,
                            deadline=deadline)


def _step_budget(suite: _Suite, methods: list[str], train_ids: list[int]) -> tuple[int, dict[str, float]]:
    """The training-step budget: as given, or the minutes left turned into steps of the cheapest method from a few
    measured steps per method (made once; the plan never changes after)."""
    if suite.budget_steps is not None:
        return suite.budget_steps, {}
    from probes.method_trials import measure_step_seconds

    calibration = suite.settings.plan.calibration_steps
    costs = {m: s for m in methods if (s := measure_step_seconds(suite.env, m, train_ids, calibration))}
    left_s = suite.budget_s - (time.perf_counter() - suite.started)
    cheapest = min(costs.values(), default=None)
    if not cheapest:
        return suite.settings.eval_step_grid[0] * max(len(methods), 1), costs
    training_share = 1 - suite.settings.plan.evaluation_time_share
    return max(int(left_s * training_share / cheapest), suite.settings.eval_step_grid[0]), costs


def _holdout(suite: _Suite, methods: list[str], seed: int, save_best_adapter: Optional[str]) -> dict:
    from probes.method_trials import run_method
    from probes.references import reference_trials

    split, env, settings = suite.split, suite.env, suite.settings
    suite.progress.phase("methods without gradient training (zero-shot, few-shot, linear probe)")
    for trial in reference_trials(suite.base, suite.data, suite.dataset, split.train_indices, split.eval_indices, settings,
                                  suite.decoder, env.device, env.batch_size, suite.latency_sensitive, deadline=env.deadline,
                                  budget_s=suite.budget_s):
        suite.record(trial)
    if not methods:
        return {}
    budget, costs = _step_budget(suite, methods, split.train_indices)
    plan = plan_suite(methods, len(split.train_indices), budget, env.batch_size, settings, seed, costs)
    suite.progress.plan(plan.total_steps, f"{plan.total_steps} training steps: " + "; ".join(
        f"{p.method} {p.main_steps} steps" + (f" after a {p.sweep_steps}-step sweep of {len(p.learning_rates)} rates" if p.sweep_steps else "")
        for p in plan.methods))
    curve_eval = min(len(split.eval_indices), settings.evaluation.curve_eval_examples)
    selected = {}
    for method_plan in plan.methods:
        if env.should_cancel():
            break
        suite.progress.phase(f"{method_plan.method}")
        save_to = f"{save_best_adapter}/{method_plan.method}" if save_best_adapter else None
        chosen = run_method(method_plan, env, split.train_indices, split.eval_indices, curve_eval, seed, suite.record, save_to)
        if chosen is not None:
            selected[method_plan.method] = chosen
    return {"selected": selected, "costs": costs}


def _kfold(suite: _Suite, methods: list[str], seed: int) -> dict:
    from probes.references import reference_trials
    from probes.run import TrialSpec, run_trial
    from probes.result import Phase

    split, env, settings = suite.split, suite.env, suite.settings
    per_fold_train = len(split.folds[0].train_indices)
    budget, costs = _step_budget(suite, methods, split.folds[0].train_indices) if methods else (0, {})
    n_folds, steps = plan_folds(methods, len(split.folds), per_fold_train, budget, env.batch_size, settings, costs) if methods \
        else (len(split.folds), {})
    suite.progress.plan(n_folds * sum(steps.values()), f"{n_folds} cross-validation folds x ({', '.join(f'{m} {s} steps' for m, s in steps.items())})")
    done_repeats = set()
    for fold in split.folds[:n_folds]:
        if env.should_cancel():
            break
        record = {"fold": fold.fold, "repeat": fold.repeat, "eval_example_ids": fold.eval_indices}
        suite.progress.phase(f"fold {fold.fold + 1} of repetition {fold.repeat + 1}")
        for trial in reference_trials(suite.base, suite.data, suite.dataset, fold.train_indices, fold.eval_indices, settings,
                                      suite.decoder, env.device, env.batch_size, suite.latency_sensitive, **record):
            suite.record(trial)
        for method in methods:
            lr = settings.plan.default_learning_rate[method]
            spec = TrialSpec(trial_id=f"fold-{method}-f{fold.fold}r{fold.repeat}", method=method, phase=Phase.FOLD,
                             learning_rate=lr, train_indices=fold.train_indices, eval_indices=fold.eval_indices,
                             curve_eval_count=len(fold.eval_indices), seed=seed + fold.repeat, fold=fold.fold, repeat=fold.repeat)
            suite.record(run_trial(spec, env, steps[method]))
        done_repeats.add(fold.repeat)
    return {"selected": {m: settings.plan.default_learning_rate[m] for m in methods}, "costs": costs,
            "repeats": len(done_repeats)}


def run_suite(
    dataset: Union[ProbeDataset, "pandas.DataFrame", str],  # noqa: F821
    model: Optional[str] = None,
    budget_minutes: float = 5.0,
    *,
    budget_steps: Optional[int] = None,
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
    """Measure zero-shot, few-shot (decoders), the linear probe, prompt tuning, LoRA and (small models) full
    fine-tuning on the user's data, every one scored on the same examples.

    ``dataset``: a ProbeDataset, a DataFrame or a CSV/JSONL path (columns are guessed; use probes.data.load_dataset
    to name them). ``model``: hub id, local directory or GGUF directory; None uses the offline default (MiniLM).
    ``budget_minutes`` becomes a step plan once, from measured seconds per step; ``budget_steps`` (tests,
    benchmarks) fixes the training steps instead, so the same inputs, seed and step budget give the same result.
    """
    settings = settings or probe_settings()
    _validate_budget(budget_minutes, budget_steps)
    dataset = dataset if isinstance(dataset, ProbeDataset) else load_dataset(dataset)
    model = model or _default_model()
    started = time.perf_counter()
    split = plan_evaluation(dataset, settings, seed)
    key = _cache_key(dataset, model, gguf_file, settings, budget_steps or budget_minutes, methods, seed, latency_sensitive)
    cached = load_cached(cache_dir, key)
    if cached is not None and not save_best_adapter:
        return cached
    suite = _start(dataset, model, gguf_file, trust_remote_code, settings, split, progress, should_cancel, started,
                   budget_minutes, budget_steps, latency_sensitive, seed)
    trained = _trained_methods(methods, suite.base.n_params, suite.env.device, settings)
    info: dict = {}
    try:
        info = _holdout(suite, trained, seed, save_best_adapter) if split.kind == "holdout" else _kfold(suite, trained, seed)
    except KeyboardInterrupt:
        if not should_cancel():
            raise
    finally:
        suite.progress.close()
    return _result(suite, info, key, budget_minutes, info.get("repeats"), should_cancel(), cache_dir)


def _default_model() -> str:
    from probes.defaults import default_model_dir

    return str(default_model_dir())


def _cache_key(dataset, model, gguf_file, settings, budget, methods, seed, latency_sensitive) -> str:
    """Everything the result depends on: data, model, settings, budget, methods, seed, versions, device."""
    from probes.models import resolve_device

    return cache_key({"data": data_hash(dataset), "model": model, "gguf_file": gguf_file, "settings": settings.model_dump(),
                      "budget": budget, "methods": methods, "seed": seed, "versions": package_versions(),
                      "device": resolve_device(), "latency_sensitive": latency_sensitive})


def _start(dataset, model, gguf_file, trust_remote_code, settings, split, progress, should_cancel, started, budget_minutes,
           budget_steps, latency_sensitive, seed) -> _Suite:
    """Load the model once, encode the data once, and set up what every trial shares (budget, deadline, progress)."""
    import torch

    from probes.models import resolve_device

    random.seed(seed)
    torch.manual_seed(seed)
    base, data, decoder = _load(dataset, model, gguf_file, trust_remote_code, settings)
    reporter = Progress(progress)
    budget_s = None if budget_steps is not None else budget_minutes * 60
    deadline = None if budget_s is None else started + budget_s * (1 + settings.plan.overrun_tolerance)
    env = _environment(base, data, decoder, settings, resolve_device(), reporter, should_cancel, deadline)
    return _Suite(dataset, settings, split, base, data, decoder, env, reporter, started, budget_s, budget_steps,
                  latency_sensitive, [])


def _result(suite: _Suite, info: dict, key: str, budget_minutes: float, n_repeats: Optional[int], cancelled: bool,
            cache_dir: Optional[str]) -> SuiteResult:
    import torch

    split, env = suite.split, suite.env
    train_ids = split.train_indices if split.kind == "holdout" else split.folds[0].train_indices
    eval_ids = split.eval_indices if split.kind == "holdout" else split.folds[0].eval_indices
    trained_steps = sum(t.curve[-1].step for t in suite.trials if t.curve and t.learning_rate is not None)
    result = SuiteResult(
        task_kind=suite.dataset.task_kind,
        metric_name="accuracy" if suite.dataset.task_kind == "classification" else "token_accuracy",
        model=suite.base.name, device=device_description(env.device), data_profile=profile_data(suite.dataset, suite.data, train_ids, eval_ids),
        trials=suite.trials, gpu_memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1) if env.device == "cuda" else 0.0,
        selected_learning_rates=info.get("selected", {}), budget_minutes=budget_minutes, budget_steps=suite.budget_steps,
        planned_steps=suite.progress.total_steps, steps_done=trained_steps,
        seconds_per_step={m: round(s, 4) for m, s in info.get("costs", {}).items()},
        evaluation=split.design(suite.settings, n_repeats), eval_example_ids=list(split.eval_indices),
        cancelled=cancelled, **suite.decoder.model_facts(), wall_time_s=round(time.perf_counter() - suite.started, 3),
        package_versions=package_versions(), cache_key=key,
    )
    save_cached(cache_dir, key, result)  # stores only suites whose every trial ended on its own terms (is_cacheable)
    return result
