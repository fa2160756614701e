"""Tables for charts: measured and fitted learning curves, and the cost comparison (no plotting library here)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence
    from advisor.report import AdvisorReport


def learning_curve_rows(evidence: "ProbeEvidence", points: int = 40) -> list[dict]:
    """Long-format rows: n_examples, method, score, kind ('measured' | 'fitted')."""
    import numpy as np

    rows: list[dict] = []
    largest = max([evidence.user_n_examples, evidence.probe_n_train_examples] + [p.n_examples for p in evidence.what_if])
    smallest = min([n for fit in evidence.fits for n, _ in fit.measured] or [10])
    grid = np.unique(np.geomspace(max(smallest / 2, 5), largest, points).astype(int))
    for fit in evidence.fits:
        for n, score in fit.measured:
            rows.append({"n_examples": n, "method": fit.method, "score": score, "kind": "measured"})
        if fit.params:
            c, a, b = fit.params
            rows += [{"n_examples": int(n), "method": fit.method, "score": float(c - a * n ** (-b)), "kind": "fitted"} for n in grid]
    return rows


def cost_rows(report: "AdvisorReport") -> list[dict]:
    return [{
        "method": m.method, "feasible": m.feasible, "trainable params": m.cost.trainable_params,
        "train memory (GiB)": m.cost.training_memory_gib, "est. training hours": m.cost.est_training_hours,
        "artefact per task (MiB)": m.cost.artifact_size_mib_per_task, "serving memory (GiB)": m.cost.serving_memory_gib,
        "extra tokens / request": m.cost.extra_tokens_per_request,
    } for m in report.recommendation.ranked]
