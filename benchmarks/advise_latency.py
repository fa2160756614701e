"""Rules-only advice latency (no torch): time advise() over varied situations.

    python benchmarks/advise_latency.py
"""
import statistics
import sys
import time

from advisor import Situation, advise

SITUATIONS = [
    dict(task_type="classification", n_labeled_examples=400, model_params_b=7.0, gpu_memory_gb=24),
    dict(task_type="qa", n_labeled_examples=50000, model_params_b=70, gpu_memory_gb=80, n_gpus=8),
    dict(task_type="summarization", n_labeled_examples=200, model_params_b=1.0, model_access="api_only"),
    dict(task_type="code", n_labeled_examples=100000, model_params_b=7, gpu_memory_gb=80, n_gpus=8, n_tasks=20),
]

if __name__ == "__main__":
    started = time.perf_counter()
    situations = [Situation(**s) for s in SITUATIONS]
    advise(situations[0])  # first call loads the knowledge base
    print(f"import + knowledge load + first advice: {time.perf_counter() - started:.3f} s; torch imported: {'torch' in sys.modules}")
    timings = []
    for _ in range(25):
        for situation in situations:
            t = time.perf_counter()
            advise(situation)
            timings.append((time.perf_counter() - t) * 1000)
    print(f"advise(): median {statistics.median(timings):.1f} ms, p95 {sorted(timings)[int(0.95 * len(timings))]:.1f} ms "
          f"over {len(timings)} calls (each includes ~50 counterfactual re-runs of the rules engine)")
