"""Replay probes from the ground truth: the product's own plan, sweep choice, fusion and advice, with every measurement
read from a long run's curve prefix instead of trained again.

A ground-truth run (benchmarks/ground_truth.py) at learning rate lr and seed s, trained on the first n rows of the
pool, keeps every dev example's correctness at the shared step grid. A probe of K steps at (n, lr, s) is exactly its
first K steps (constant rate after a fixed warmup, the same batches), so its score on any subset of the dev set is
known without training. A replayed probe:
- evaluates on a random subset of the dev set, sized as the product sizes its evaluation split for the user's N;
- plans its steps with probes.plan.plan_suite for a given step budget, chooses sweep winners with
  probes.method_trials.choose_learning_rate, and reads zero-shot and the linear probe from their ground-truth records;
- goes through advisor.advise() like a real probe.
Where a ground-truth run stopped early (no dev improvement for as long as it took to reach its best) before the
probe's K steps, its last point stands in for step K (flagged ``truncated``).

The truth for a (data set, N, method) is the test accuracy at the best dev checkpoint of the learning rate whose
seed-0 run reached the best dev accuracy, averaged over the seeds run at that rate.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ground_truth import DEV_N, PROTOCOL, RESULTS_DIR, load_runs, unpack_bits  # noqa: E402

MODEL_PARAMS_B = 0.0227  # all-MiniLM-L6-v2
TRAINED = ("prompt_tuning", "lora", "full_finetune")


@dataclass
class GroundTruth:
    runs: dict[tuple, dict] = field(default_factory=dict)  # (dataset, n, method, lr, seed) -> run
    frozen: dict[tuple, dict] = field(default_factory=dict)  # (dataset, n, method) -> run (n = 0 for zero-shot)

    @classmethod
    def load(cls, directory: Path = RESULTS_DIR) -> "GroundTruth":
        truth = cls()
        for run in load_runs(directory):
            if run.get("protocol") != PROTOCOL:
                continue
            if run["learning_rate"] is None:  # the probes' own linear-probe pipeline wins over the older records
                key = (run["dataset"], run["n_train"], run["method"])
                if run.get("pipeline") == "probe" or truth.frozen.get(key, {}).get("pipeline") != "probe":
                    truth.frozen[key] = run
            else:
                truth.runs[(run["dataset"], run["n_train"], run["method"], run["learning_rate"], run["seed"])] = run
        return truth

    def datasets(self) -> list[str]:
        return sorted({k[0] for k in self.runs})

    def sizes(self, dataset: str) -> list[int]:
        return sorted({k[1] for k in self.runs if k[0] == dataset})

    def rates(self, dataset: str, n: int, method: str) -> list[float]:
        return sorted({k[3] for k in self.runs if k[:3] == (dataset, n, method)})

    def complete(self, dataset: str, n: int, grids: dict[str, list[float]]) -> bool:
        """Every method has every probe-grid rate at seed 0, and the linear probe is there."""
        have = all((dataset, n, m, lr, 0) in self.runs for m in TRAINED for lr in grids[m])
        return have and (dataset, n, "linear_probe") in self.frozen and (dataset, 0, "zero_shot") in self.frozen

    def best_rate(self, dataset: str, n: int, method: str) -> Optional[float]:
        """The rate whose seed-0 run reached the best dev accuracy (as the ground truth chose it)."""
        scored = [(self.runs[(dataset, n, method, lr, 0)]["best_dev_accuracy"], lr) for lr in self.rates(dataset, n, method)
                  if (dataset, n, method, lr, 0) in self.runs and self.runs[(dataset, n, method, lr, 0)]["best_dev_accuracy"] is not None]
        return max(scored)[1] if scored else None

    def converged(self, dataset: str, n: int, method: str) -> Optional[float]:
        """Test accuracy of a full-length run at the best rate, averaged over the seeds run there."""
        if method in ("zero_shot", "linear_probe"):
            run = self.frozen.get((dataset, 0 if method == "zero_shot" else n, method))
            return None if run is None else run["test_accuracy"]
        lr = self.best_rate(dataset, n, method)
        if lr is None:
            return None
        seeds = [self.runs[k] for k in self.runs if k[:4] == (dataset, n, method, lr) and self.runs[k]["test_accuracy"] is not None]
        return sum(r["test_accuracy"] for r in seeds) / len(seeds) if seeds else None


@dataclass
class Replay:
    dataset: str
    user_n: int
    budget_steps: int
    seed: int
    suite: object  # SuiteResult
    report: object  # AdvisorReport
    truncated: list[str]


def _point(run: dict, step: int, subset: list[int]):
    """The curve point at ``step`` (or the run's last one if it stopped earlier), scored on ``subset`` of dev."""
    from probes.result import CurvePoint, pack_correct

    candidates = [p for p in run["curve"] if p["step"] <= step]
    point = candidates[-1] if candidates else run["curve"][0]
    bits = unpack_bits(point["dev_correct"], DEV_N)
    correct = [bool(bits[i]) for i in subset]
    return CurvePoint(step=step, examples_seen=step * 16, tokens_seen=0, train_loss=point.get("train_loss"),
                      eval_loss=point.get("dev_loss"), eval_metric=round(sum(correct) / len(correct), 5),
                      wall_time_s=point.get("wall_time_s", 0.0), n_eval_examples=len(correct),
                      correct_bits=pack_correct(correct)), point["step"] < step


def _trained_trial(run: dict, method: str, phase, steps: int, eval_ids: list[int], curve_eval: int, n_full: int,
                   grid: list[int], truncated: list[str], tag: str = ""):
    from probes.result import TrialResult

    points = []
    for step in [s for s in grid if s < steps] + [steps]:
        point, cut = _point(run, step, eval_ids if step == steps else eval_ids[:curve_eval])
        points.append(point)
        if cut and step == steps:
            truncated.append(f"{method} lr={run['learning_rate']} n={run['n_train']} seed={run['seed']} at {steps}")
    return TrialResult(trial_id=f"{phase.value}-{method}-lr{run['learning_rate']:g}{tag}", method=method, phase=phase,
                       learning_rate=run["learning_rate"], data_fraction=round(run["n_train"] / n_full, 4),
                       n_train_examples=run["n_train"], n_eval_examples=len(eval_ids), seed=run["seed"],
                       status="complete", curve=points, config={"batch_size": 16})


def _frozen_trial(run: dict, method: str, phase, eval_ids: list[int], n_train: int):
    from probes.result import TrialResult

    point, _ = _point(run, 0, eval_ids)
    return TrialResult(trial_id=method, method=method, phase=phase, learning_rate=None, data_fraction=1.0,
                       n_train_examples=n_train, n_eval_examples=len(eval_ids), seed=0, status="complete", curve=[point])


def eval_size(user_n: int, settings) -> int:
    e = settings.evaluation
    return int(min(e.max_examples, max(e.min_examples, round(user_n * e.fraction)), DEV_N))


def replay_suite(truth: GroundTruth, dataset: str, user_n: int, budget_steps: int, seed: int, settings=None):
    """A SuiteResult as the product would have measured it with ``user_n`` training rows and ``budget_steps``
    training steps (the plan picks each method's training rows, 32 x 2^k of them when the steps cannot cover all
    ``target_epochs`` times), and the list of curve points read past a run's end."""
    from probes.method_trials import choose_learning_rate
    from probes.plan import plan_suite
    from probes.result import DataProfile, EvaluationDesign, Phase, SuiteResult
    from probes.settings import probe_settings
    from probes.split import resolvable_difference

    settings = settings or probe_settings()
    rng = random.Random(seed)
    eval_ids = rng.sample(range(DEV_N), eval_size(user_n, settings))
    curve_eval = min(len(eval_ids), settings.evaluation.curve_eval_examples)
    truncated: list[str] = []
    trials = [_frozen_trial(truth.frozen[(dataset, 0, "zero_shot")], "zero_shot", Phase.BASELINE, eval_ids, 0),
              _frozen_trial(truth.frozen[(dataset, user_n, "linear_probe")], "linear_probe", Phase.REFERENCE, eval_ids, user_n)]
    trials += [_frozen_trial(truth.frozen[(dataset, n, "linear_probe")], "linear_probe", Phase.REFERENCE, eval_ids, n)
               for n in truth.sizes(dataset) if n < user_n and (dataset, n, "linear_probe") in truth.frozen][-2:]
    plan = plan_suite(list(TRAINED), user_n, budget_steps, 16, settings, seed=0)
    grid, selected = settings.eval_step_grid, {}
    for method_plan in plan.methods:
        method, probe_n = method_plan.method, method_plan.n_train
        if method_plan.sweep_steps:
            sweep = [_trained_trial(truth.runs[(dataset, probe_n, method, lr, 0)], method, Phase.LR_SWEEP,
                                    method_plan.sweep_steps, eval_ids[:curve_eval], curve_eval, probe_n, grid, [])
                     for lr in method_plan.learning_rates if (dataset, probe_n, method, lr, 0) in truth.runs]
            chosen = choose_learning_rate(sweep, settings.lr_tie_standard_errors) or method_plan.learning_rates[0]
            trials += [t for t in sweep if t.learning_rate != chosen]
        else:
            chosen = method_plan.learning_rates[0]
        selected[method] = chosen
        main = truth.runs.get((dataset, probe_n, method, chosen, 0))
        if main is None:
            continue
        trials.append(_trained_trial(main, method, Phase.CURVE, method_plan.main_steps, eval_ids, curve_eval, user_n, grid, truncated))
        for extra in method_plan.extras:
            key = (dataset, extra.n_train if extra.kind == "size" else probe_n, method, chosen, extra.seed if extra.kind == "seed" else 0)
            if key in truth.runs:
                trials.append(_trained_trial(truth.runs[key], method, Phase.CURVE, extra.steps, eval_ids, curve_eval, user_n,
                                             grid, truncated, tag=f"-{extra.kind}"))
    profile = DataProfile(n_rows=user_n, n_train=user_n, n_eval=len(eval_ids), task_kind="classification",
                          label_counts=truth_label_counts(dataset), token_length_p50=30, token_length_p90=50,
                          token_length_p99=60, n_duplicates=0, n_train_eval_overlap=0)
    design = EvaluationDesign(kind="holdout", n_eval_examples=len(eval_ids), n_train_examples=user_n, curve_eval_examples=curve_eval,
                              resolvable_difference=resolvable_difference(len(eval_ids), settings.evaluation.assumed_discordance))
    suite = SuiteResult(task_kind="classification", metric_name="accuracy", model="all-MiniLM-L6-v2 (replayed)", device="replay",
                        probed_model_params_b=MODEL_PARAMS_B, model_architecture="encoder", data_profile=profile, trials=trials,
                        selected_learning_rates=selected, budget_minutes=0.0, budget_steps=budget_steps,
                        planned_steps=plan.total_steps, evaluation=design, eval_example_ids=eval_ids, wall_time_s=0.0)
    return suite, truncated


_LABEL_COUNTS: dict[str, dict[str, int]] = {}


def truth_label_counts(dataset: str) -> dict[str, int]:
    if dataset not in _LABEL_COUNTS:
        from public_datasets import DATASETS

        _, labels = DATASETS[dataset]()
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        _LABEL_COUNTS[dataset] = counts
    return _LABEL_COUNTS[dataset]


def situation_for(user_n: int):
    from advisor import Situation

    return Situation(task_type="classification", n_labeled_examples=user_n, model_params_b=MODEL_PARAMS_B,
                     model_architecture="encoder", model_access="open_weights", gpu_memory_gb=0, n_gpus=1, n_tasks=1)


def replay(truth: GroundTruth, dataset: str, user_n: int, budget_steps: int, seed: int, knowledge=None) -> Replay:
    from advisor import advise

    suite, truncated = replay_suite(truth, dataset, user_n, budget_steps, seed)
    report = advise(situation_for(user_n), probe_results=suite, knowledge=knowledge)
    return Replay(dataset, user_n, budget_steps, seed, suite, report, truncated)
