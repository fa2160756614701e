"""Real end-to-end checks of the replays: run the actual probe (run_suite + advise, real training) on exactly the rows
a ground-truth cell trained on, and compare its pick and predictions with that cell's converged results.

    python benchmarks/end_to_end_check.py --cells tweets_sentiment:32 election_tweets:64 --budget-steps 150

A user with N labelled rows: the probe gets the ground truth's N training rows (the first N of its pool) and, below
200 rows, cross-validates them (the path the replays cannot simulate); the truth is the ground truth's converged
accuracy of each method trained on those N rows and tested on its 1,000 test rows.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from advice_quality import outcome, truths  # noqa: E402
from ground_truth import Split  # noqa: E402
from replay import GroundTruth, situation_for  # noqa: E402


def check(truth: GroundTruth, dataset: str, n: int, budget_steps: int) -> dict:
    from advisor import advise
    from probes.data import ProbeDataset
    from probes.suite import run_suite

    split = Split(dataset)
    rows = split.train(n)
    data = ProbeDataset(task_kind="classification", texts=[split.texts[i] for i in rows],
                        labels=[split.labels[i] for i in rows], label_names=split.label_names, source=f"{dataset}[:{n}]")
    present = sorted(set(data.labels))  # a tiny sample may miss a class: re-index to the classes present
    index = {old: new for new, old in enumerate(present)}
    data = ProbeDataset(task_kind="classification", texts=data.texts, labels=[index[y] for y in data.labels],
                        label_names=[split.label_names[i] for i in present], source=data.source)
    suite = run_suite(data, budget_steps=budget_steps, cache_dir=None)
    report = advise(situation_for(n), probe_results=suite)
    truth_at_n = truths(truth, dataset, n)
    evidence = report.probe_evidence
    return {"dataset": dataset, "n": n, "budget_steps": budget_steps, "evaluation": suite.evaluation.kind,
            "pick": report.recommendation.method, "confidence": report.recommendation.confidence,
            "truths": truth_at_n, **outcome(report.recommendation.method, truth_at_n, evidence.tolerance),
            "predictions": {m.method: (m.measured, m.prediction.mean if m.prediction else None) for m in evidence.methods},
            "wall_time_s": suite.wall_time_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=["tweets_sentiment:32", "election_tweets:32"])
    parser.add_argument("--budget-steps", type=int, default=150)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "end_to_end_check.json")
    args = parser.parse_args()
    truth = GroundTruth.load()
    results = []
    for cell in args.cells:
        dataset, n = cell.split(":")
        results.append(check(truth, dataset, int(n), args.budget_steps))
        print(json.dumps(results[-1]), flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
