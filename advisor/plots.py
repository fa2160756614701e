"""Tables for charts (no plotting library here): the probe's measured training curves, the predicted full-length
results beside them (marked as predictions), and reference lines (the no-training baseline and the linear probe),
each with a label for the chart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence
    from advisor.report import AdvisorReport


def learning_curve_rows(evidence: "ProbeEvidence", names: Optional[dict[str, str]] = None) -> list[dict]:
    """Long-format rows of the probe's training curves: step, method (human name when ``names`` is given), score,
    kind = 'measured' (points of the main trial, the last on every evaluation example) or 'predicted full-length'
    (the predicted score of a full-length run with the 80% interval, placed at the last step for reference)."""
    names = names or {}
    rows: list[dict] = []
    for m in evidence.methods:
        if not m.curve:
            continue
        method = names.get(m.method, m.method)
        rows += [{"step": step, "method": method, "score": score, "kind": "measured"} for step, score in m.curve]
        if m.prediction is not None:
            last = m.curve[-1][0]
            rows.append({"step": last, "method": method, "score": m.prediction.mean, "low": m.prediction.low,
                         "high": m.prediction.high, "kind": "predicted full-length"})
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
