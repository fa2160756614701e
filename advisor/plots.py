"""Tables for charts (no plotting library here): measured points, fitted curves and their extrapolation, references.

Each curve row has ``kind``: 'measured' (a probe trial), 'fit' (the fitted curve inside the measured range) or
'extrapolated' (the fitted curve beyond the largest measured data size). Reference rows are the no-training
baseline and the linear probe, each with a label for the chart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence
    from advisor.report import AdvisorReport


def learning_curve_rows(evidence: "ProbeEvidence", names: Optional[dict[str, str]] = None, points: int = 40) -> list[dict]:
    """Long-format rows: n_examples, method (human name when ``names`` is given), score, kind."""
    import numpy as np

    names = names or {}
    rows: list[dict] = []
    largest = max([evidence.user_n_examples, evidence.probe_n_train_examples] + [p.n_examples for p in evidence.what_if])
    smallest = min([n for fit in evidence.fits for n, _ in fit.measured] or [10])
    grid = np.unique(np.geomspace(max(smallest / 2, 5), max(largest, 10), points).astype(int))
    for fit in evidence.fits:
        method = names.get(fit.method, fit.method)
        for n, score in fit.measured:
            rows.append({"n_examples": n, "method": method, "score": score, "kind": "measured"})
        if not fit.params:
            continue
        c, a, b = fit.params
        edge = max(n for n, _ in fit.measured)
        inside = [n for n in grid if n <= edge] + [edge]
        outside = [edge] + [n for n in grid if n > edge]
        for kind, ns in (("fit", inside), ("extrapolated", outside)):
            if len(ns) > 1:
                rows += [{"n_examples": int(n), "method": method, "score": float(c - a * n ** (-b)), "kind": kind} for n in sorted(set(ns))]
    return rows


def reference_rows(evidence: "ProbeEvidence", names: Optional[dict[str, str]] = None) -> list[dict]:
    """Horizontal reference lines: the no-training baseline and the linear probe, with chart labels."""
    names = names or {}
    rows = []
    if evidence.baseline_score is not None:
        rows.append({"score": evidence.baseline_score, "label": f"no-training baseline {evidence.baseline_score:.1%}"})
    if evidence.linear_probe_score is not None:
        rows.append({"score": evidence.linear_probe_score,
                     "label": f"linear probe {evidence.linear_probe_score:.1%}"})
    return rows


def cost_rows(report: "AdvisorReport") -> list[dict]:
    """Raw cost numbers per method (for exports); the page shows advisor.view's formatted table."""
    return [{
        "method": m.method, "feasible": m.feasible, "trainable params": m.cost.trainable_params,
        "train memory (GiB)": m.cost.training_memory_gib, "est. training hours": m.cost.est_training_hours,
        "artefact per task (MiB)": m.cost.artifact_size_mib_per_task, "serving memory (GiB)": m.cost.serving_memory_gib,
        "extra tokens / request": m.cost.extra_tokens_per_request,
    } for m in report.recommendation.ranked]
