"""Probe throughput: our trial loop vs the same trial written the way peft's documentation examples do it
(transformers Trainer, default settings, DataCollatorWithPadding), side by side on the same data and model.

    python benchmarks/probe_throughput.py                       # MiniLM + tweets, LoRA and prompt tuning
    python benchmarks/probe_throughput.py --steps 100 --methods lora --out benchmarks/results/cpu.json

Each variant runs in its own subprocess (clean peak-memory baseline), alternating, --repeats times; the
report gives medians, the speed ratio (Trainer time / ours) and the peak-memory ratio (ours / Trainer).
Same examples, same batch size, same number of optimizer steps, same LoRA / prompt-tuning config.
On CUDA it also reports the achieved fraction of the card's peak bf16 FLOP/s (6N or 4N FLOPs per token).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _setup(n_examples: int, method: str):
    from probes.data import load_dataset
    from probes.defaults import default_dataset_path, default_model_dir
    from probes.models import load_base_model
    from probes.settings import probe_settings

    dataset = load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=n_examples)
    base = load_base_model(str(default_model_dir()), "classification", len(dataset.label_names))
    return dataset, base, probe_settings()


def run_ours(args) -> dict:
    """The real probe trial (probes.run.run_trial): bucketed batches, AdamW with warmup then a constant rate, gradient
    clipping, accelerate. Its wall time includes copying the base model and one evaluation of 16 examples (the eval
    grid is emptied so only the last step is scored, as in the Trainer run)."""
    from accelerate import Accelerator

    from probes.batches import encode_dataset
    from probes.models import resolve_device
    from probes.result import Phase
    from probes.run import TrialEnvironment, TrialSpec, run_trial

    dataset, base, settings = _setup(args.examples, args.method)
    settings = settings.model_copy(update={"eval_step_grid": [args.steps]})
    device = resolve_device()
    data = encode_dataset(dataset, base.tokenizer, settings.max_length_tokens)
    indices = list(range(dataset.n_rows))
    spec = TrialSpec("benchmark", args.method, Phase.CURVE, args.lr, indices, indices[:16], curve_eval_count=16)
    env = TrialEnvironment(base=base, data=data, settings=settings, device=device, batch_size=args.batch_size,
                           accelerator=Accelerator(cpu=device == "cpu"))
    trial = run_trial(spec, env, args.steps)
    assert trial.status.value == "complete", trial.message
    return {"wall_time_s": trial.wall_time_s, "peak_memory_gib": trial.peak_memory_gib, "real_tokens": trial.tokens_seen,
            "device": device, "n_params": base.n_params, "final_loss": trial.curve[-1].train_loss}


def run_trainer(args) -> dict:
    import tempfile

    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from probes.measure import PeakMemory
    from probes.methods import build_trial_model
    from probes.models import resolve_device

    dataset, base, settings = _setup(args.examples, args.method)
    device = resolve_device()
    tokenizer = base.tokenizer
    encoded = tokenizer(dataset.texts, truncation=True, max_length=settings.max_length_tokens)
    rows = [{"input_ids": ids, "attention_mask": mask, "labels": label}
            for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], dataset.labels)]
    with PeakMemory(device) as meter, tempfile.TemporaryDirectory() as out:
        model, _ = build_trial_model(base, args.method, settings, dataset.label_names)
        training_args = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch_size, max_steps=args.steps,
                                          learning_rate=args.lr, report_to=[], save_strategy="no", logging_strategy="no",
                                          disable_tqdm=True, use_cpu=device == "cpu")
        trainer = Trainer(model=model, args=training_args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer))
        started = time.perf_counter()
        result = trainer.train()
        if device == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
    real_tokens = sum(len(r["input_ids"]) for r in rows) * args.steps * args.batch_size / len(rows)
    return {"wall_time_s": wall, "peak_memory_gib": meter.peak_gib, "real_tokens": int(real_tokens), "device": device,
            "n_params": base.n_params, "final_loss": float(result.training_loss)}


def _peak_fraction(result: dict, method: str) -> float | None:
    if result["device"] != "cuda":
        return None
    import torch

    from advisor.knowledge import default_knowledge

    name = torch.cuda.get_device_name(0)
    peaks = default_knowledge().costs.gpu_peak_bf16_tflops
    peak = next((v for k, v in peaks.items() if k in name), None)
    if peak is None:
        return None
    flops_per_token = (6 if method == "full_finetune" else 4) * result["n_params"]
    return flops_per_token * result["real_tokens"] / result["wall_time_s"] / (peak * 1e12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["lora", "prompt_tuning"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=["ours", "trainer"], help=argparse.SUPPRESS)
    parser.add_argument("--method", default="lora", help=argparse.SUPPRESS)
    parser.add_argument("--lr", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = (run_ours if args.worker == "ours" else run_trainer)(args)
        result["fraction_of_peak_bf16"] = _peak_fraction(result, args.method)
        print("RESULT " + json.dumps(result))
        return

    from probes.settings import probe_settings

    report = {"steps": args.steps, "batch_size": args.batch_size, "examples": args.examples, "methods": {}}
    for method in args.methods:
        lr = probe_settings().learning_rate_grids[method][0]
        runs: dict[str, list[dict]] = {"ours": [], "trainer": []}
        for _ in range(args.repeats):
            for impl in ("ours", "trainer"):
                command = [sys.executable, __file__, "--worker", impl, "--method", method, "--lr", str(lr),
                           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--examples", str(args.examples)]
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                runs[impl].append(json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:]))
        ours_time = statistics.median(r["wall_time_s"] for r in runs["ours"])
        trainer_time = statistics.median(r["wall_time_s"] for r in runs["trainer"])
        ours_mem = statistics.median(r["peak_memory_gib"] for r in runs["ours"])
        trainer_mem = statistics.median(r["peak_memory_gib"] for r in runs["trainer"])
        summary = {
            "ours_wall_time_s": round(ours_time, 3), "trainer_wall_time_s": round(trainer_time, 3),
            "speedup_x": round(trainer_time / ours_time, 3),
            "ours_examples_per_s": round(args.steps * args.batch_size / ours_time, 2),
            "trainer_examples_per_s": round(args.steps * args.batch_size / trainer_time, 2),
            "ours_peak_memory_gib": ours_mem, "trainer_peak_memory_gib": trainer_mem,
            "memory_ratio_ours_over_trainer": round(ours_mem / trainer_mem, 3) if trainer_mem else None,
            "ours_fraction_of_peak_bf16": runs["ours"][0]["fraction_of_peak_bf16"],
            "device": runs["ours"][0]["device"], "runs": runs,
        }
        report["methods"][method] = summary
        print(f"{method}: ours {ours_time:.2f}s vs Trainer {trainer_time:.2f}s -> {summary['speedup_x']:.2f}x faster; "
              f"peak memory {ours_mem:.3f} vs {trainer_mem:.3f} GiB ({summary['memory_ratio_ours_over_trainer']}x)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
