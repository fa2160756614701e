"""One training trial: a LiveTrial trains one method at one learning rate on one training set and freezes into a
TrialResult.

The schedule is a short linear warmup then a constant rate (transformers' get_constant_schedule_with_warmup), so a
trial of K steps is exactly the first K steps of the full-length run it stands for (benchmarks/ground_truth.py
trains those the same way), and a trial can be continued: the learning-rate sweep's winner goes on training
instead of starting over. Evaluation happens at the shared step grid (knowledge/probes.yaml ``eval_step_grid``) on
a fixed random subset of the evaluation examples, and on all of them at the trial's last step; every point keeps
each example's result for paired comparisons.

Every trial ends in a recorded state: complete, stopped (diverged, cancelled, suite deadline), out_of_memory or
failed. Plain PyTorch under ``accelerate`` so ``accelerate launch`` works unchanged.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from probes.batches import EncodedData, bucketed_batches, collate, training_loss
from probes.evaluation import EvalResult, evaluate
from probes.measure import PeakMemory
from probes.references import point_from_eval
from probes.result import CurvePoint, Phase, ProbeStatus, TrialResult


class ProbeStopped(Exception):
    """Raised inside the loop to end a trial early with status STOPPED."""


@dataclass(frozen=True)
class TrialSpec:
    trial_id: str
    method: str
    phase: Phase
    learning_rate: float
    train_indices: list[int]
    eval_indices: list[int]
    curve_eval_count: int  # intermediate points score the first this many eval examples
    seed: int = 0
    data_fraction: float = 1.0
    fold: Optional[int] = None
    repeat: Optional[int] = None


@dataclass
class TrialEnvironment:
    """What every trial of one suite shares."""

    base: Any
    data: EncodedData
    settings: Any
    device: str
    batch_size: int
    accelerator: Any
    evaluator: Optional[Callable[..., EvalResult]] = None  # default: probes.evaluation.evaluate
    after_training: Callable[[Any, list[int], str], dict] = lambda model, eval_indices, device: {}
    on_step: Callable[[str, int, int], None] = lambda *_: None
    should_cancel: Callable[[], bool] = lambda: False
    deadline: Optional[float] = None  # perf_counter time; None = no wall-clock limit (step budgets)

    def score(self, model: Any, indices: list[int]) -> EvalResult:
        return (self.evaluator or evaluate)(model, self.data, indices, self.batch_size, self.accelerator.device)


def _rng_state() -> tuple:
    import torch

    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def _set_rng_state(state: tuple) -> None:
    import torch

    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    text = str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


@dataclass
class LiveTrial:
    """A trial in memory: ``train_to(step)`` as often as needed, then ``freeze()``. Never raises (except Ctrl-C)."""

    spec: TrialSpec
    env: TrialEnvironment
    planned_steps: int
    status: ProbeStatus = ProbeStatus.COMPLETE
    message: str = ""
    curve: list[CurvePoint] = field(default_factory=list)
    step: int = 0
    examples_seen: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    trainable_params: int = 0
    extra: dict = field(default_factory=dict)
    _running_losses: list[float] = field(default_factory=list)
    _first_loss: Optional[float] = None
    _smoothed_loss: Optional[float] = None
    _started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.meter = PeakMemory(self.env.device)
        self.meter.__enter__()
        self.model = self.optimizer = self.schedule = None
        try:
            self._build()
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - recorded
            self._record_failure(error)

    @property
    def ok(self) -> bool:
        return self.status == ProbeStatus.COMPLETE

    @property
    def seconds_per_step(self) -> Optional[float]:
        return self.train_seconds / self.step if self.step else None

    def _build(self) -> None:
        import torch
        from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

        from probes.methods import build_trial_model

        settings, spec = self.env.settings, self.spec
        torch.manual_seed(spec.seed)
        model, groups = build_trial_model(self.env.base, spec.method, settings, self.env.data.label_names)
        param_groups = [{"params": g["params"], "lr": spec.learning_rate if g["role"] == "method" else settings.head_learning_rate}
                        for g in groups]
        self.trainable_params = sum(p.numel() for g in param_groups for p in g["params"])
        self._trainable = [p for g in param_groups for p in g["params"]]
        optimizer = torch.optim.AdamW(param_groups, weight_decay=0.0)
        if settings.schedule.get(spec.method, "constant") == "linear":
            self.schedule = get_linear_schedule_with_warmup(optimizer, settings.warmup_steps, self.planned_steps)
        else:
            self.schedule = get_constant_schedule_with_warmup(optimizer, settings.warmup_steps)
        self.model, self.optimizer = self.env.accelerator.prepare(model, optimizer)
        self.model.train()
        self._batches = bucketed_batches(self.env.data, spec.train_indices, self.env.batch_size, random.Random(spec.seed))
        self._rng_state = _rng_state()

    def _own_rng(self):
        """Dropout draws from torch's global generator: each trial keeps its own stream, so its result does not
        depend on which trials ran before or between its steps (a sweep interleaves them)."""
        trial = self

        class _Swap:
            def __enter__(self):
                self.outer = _rng_state()
                _set_rng_state(trial._rng_state)

            def __exit__(self, *exc):
                trial._rng_state = _rng_state()
                _set_rng_state(self.outer)

        return _Swap()

    def _record_failure(self, error: BaseException) -> None:
        self.status = ProbeStatus.OUT_OF_MEMORY if is_out_of_memory(error) else ProbeStatus.FAILED
        self.message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]

    def _check_budget(self) -> None:
        if self.env.should_cancel():
            raise ProbeStopped("cancelled by the user")
        if self.env.deadline is not None and time.perf_counter() > self.env.deadline:
            raise ProbeStopped("the suite's time budget ran out")

    def _check_loss(self, loss: float) -> None:
        if not math.isfinite(loss):
            raise ProbeStopped(f"diverged: training loss became {loss} at step {self.step + 1}")
        self._smoothed_loss = loss if self._smoothed_loss is None else 0.9 * self._smoothed_loss + 0.1 * loss
        if self._first_loss is None:
            self._first_loss = loss
        elif self.step > 10 and self._smoothed_loss > self.env.settings.divergence_loss_ratio * self._first_loss:
            raise ProbeStopped(f"diverged: training loss {self._smoothed_loss:.3g} is over "
                               f"{self.env.settings.divergence_loss_ratio:g}x its start {self._first_loss:.3g}")

    def _one_step(self) -> None:
        self._check_budget()
        started = time.perf_counter()
        indices = next(self._batches)
        batch = collate(self.env.data, indices, self.env.accelerator.device)
        loss = training_loss(self.model, batch, self.env.data)
        self._check_loss(float(loss.detach()))
        self.env.accelerator.backward(loss)
        self.env.accelerator.clip_grad_norm_(self._trainable, self.env.settings.max_grad_norm)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self._running_losses.append(float(loss.detach()))
        self.examples_seen += len(indices)
        self.tokens_seen += int(batch["attention_mask"].sum())
        self.train_seconds += time.perf_counter() - started
        self.env.on_step(self.spec.trial_id, self.step, self.planned_steps)

    def _evaluate(self, full: bool) -> None:
        indices = self.spec.eval_indices if full else self.spec.eval_indices[: self.spec.curve_eval_count]
        result = self.env.score(self.model, indices)
        losses, self._running_losses = self._running_losses, []
        self.curve.append(point_from_eval(result, step=self.step, examples_seen=self.examples_seen, tokens_seen=self.tokens_seen,
                                          train_loss=sum(losses) / len(losses) if losses else None,
                                          wall_time_s=time.perf_counter() - self._started))

    def _train_points(self, points: list[int], target_step: int, final: bool) -> None:
        for point in points:
            while self.step < point:
                self._one_step()
            self._evaluate(full=final if point == target_step else False)

    def train_to(self, target_step: int, final: bool = True) -> "LiveTrial":
        """Train up to ``target_step``, scoring at every grid step on the way and at ``target_step`` (on all
        evaluation examples when ``final``)."""
        if not self.ok or self.model is None:
            return self
        grid = [s for s in self.env.settings.eval_step_grid if self.step < s < target_step]
        try:
            with self._own_rng():
                self._train_points([*grid, target_step], target_step, final)
        except ProbeStopped as stop:
            self.status, self.message = ProbeStatus.STOPPED, str(stop)
            unscored = self.step and (not self.curve or self.curve[-1].step != self.step)
            if unscored and not str(stop).startswith(("diverged", "cancelled")):
                try:
                    self._evaluate(full=final)  # trained, but out of time: its last state is still evidence
                except Exception as error:  # noqa: BLE001
                    self._record_failure(error)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a recorded state
            self._record_failure(error)
        return self

    def snapshot(self) -> TrialResult:
        """The record so far, without freeing anything (e.g. to pick a sweep winner before continuing it)."""
        return self._record(None, {})

    def freeze(self, save_to: Optional[str] = None) -> TrialResult:
        """The frozen record; frees the model. ``save_to``: save the trained adapter (or model) there."""
        import torch

        from probes.methods import adapter_size_mib, save_adapter

        adapter_mib = extra = None
        try:
            if self.model is not None:
                unwrapped = self.env.accelerator.unwrap_model(self.model)
                adapter_mib = round(adapter_size_mib(unwrapped, self.spec.method), 4)
                evaluated = bool(self.curve) and self.status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED)
                if evaluated and self.curve[-1].n_eval_examples == len(self.spec.eval_indices):
                    extra = self.env.after_training(unwrapped, self.spec.eval_indices, self.env.accelerator.device)
                    if save_to:
                        save_adapter(unwrapped, save_to)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - a failed save or generation pass is recorded, the measurements stay
            self.message = (self.message + "; " if self.message else "") + f"after training: {type(error).__name__}: {error}"[:300]
        finally:
            self.meter.__exit__(None, None, None)
            self.model = self.optimizer = self.schedule = self._batches = None
            self.env.accelerator.free_memory()
            if self.env.device == "cuda":
                torch.cuda.empty_cache()
        return self._record(adapter_mib, extra or {})

    def _record(self, adapter_mib: Optional[float], extra: dict) -> TrialResult:
        spec, settings = self.spec, self.env.settings
        config = {"method": spec.method, "learning_rate": spec.learning_rate, "batch_size": self.env.batch_size,
                  "planned_steps": self.planned_steps, "optimizer": "AdamW",
                  "schedule": f"{settings.schedule.get(spec.method, 'constant')} after {settings.warmup_steps} warmup steps",
                  "head_learning_rate": settings.head_learning_rate, "max_grad_norm": settings.max_grad_norm, "seed": spec.seed}
        try:
            from probes.methods import trial_config

            config.update(trial_config(self.env.base, spec.method, settings))
        except ValueError:
            pass
        return TrialResult(
            trial_id=spec.trial_id, method=spec.method, phase=spec.phase, learning_rate=spec.learning_rate,
            data_fraction=spec.data_fraction, n_train_examples=len(spec.train_indices), n_eval_examples=len(spec.eval_indices),
            seed=spec.seed, status=self.status, message=self.message, curve=self.curve,
            wall_time_s=round(time.perf_counter() - self._started, 3), tokens_seen=self.tokens_seen,
            peak_memory_gib=self.meter.peak_gib, trainable_params=self.trainable_params, total_params=self.env.base.n_params,
            adapter_size_mib=adapter_mib, config=config, fold=spec.fold, repeat=spec.repeat,
            eval_example_ids=list(spec.eval_indices) if spec.fold is not None else None, **extra)


def run_trial(spec: TrialSpec, env: TrialEnvironment, n_steps: int, save_to: Optional[str] = None) -> TrialResult:
    """Train ``spec`` for ``n_steps`` and freeze it (one call for a trial that is not continued)."""
    return LiveTrial(spec, env, planned_steps=n_steps).train_to(n_steps).freeze(save_to)
