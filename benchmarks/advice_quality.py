"""How good is the advice? Replays probes from the ground truth (benchmarks/replay.py) over every data set, size,
step budget and evaluation draw, and reports:
- regret: accuracy of the best method (after full-length training) minus that of the pick, against the constant
  policies (always X) and the rules-only advice;
- calibration of the confidence (P(pick within the tolerance of the best)): reliability table, expected
  calibration error, Brier score;
- prediction error of the converged accuracy: RMSE, share of truths inside the 80% intervals, share of
  (method, situation) pairs that got a prediction.

    python benchmarks/advice_quality.py --budgets 150 300 600 --seeds 5 --out benchmarks/results/advice_quality.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import TRAINED, GroundTruth, replay, situation_for  # noqa: E402

GT_METHODS = ("zero_shot", "linear_probe", *TRAINED)
SAME_EVIDENCE = {"rslora": "lora", "dora": "lora", "qlora": "lora"}


def cells(truth: GroundTruth, grids) -> list[tuple[str, int]]:
    """(data set, user N) with complete ground truth at N and every smaller size (a probe may learn from fewer rows)."""
    out = []
    for dataset in truth.datasets():
        sizes = truth.sizes(dataset)
        for n in sizes:
            if all(truth.complete(dataset, m, grids) for m in sizes if m <= n):
                out.append((dataset, n))
    return out


def truths(truth: GroundTruth, dataset: str, n: int) -> dict[str, float]:
    return {m: v for m in GT_METHODS if (v := truth.converged(dataset, n, m)) is not None}


def outcome(pick: str, truth_at_n: dict[str, float], tolerance: float) -> dict:
    best = max(truth_at_n.values())
    picked = truth_at_n.get(SAME_EVIDENCE.get(pick, pick))
    if picked is None:
        return {"regret": None, "within": None}
    return {"regret": best - picked, "within": best - picked <= tolerance + 1e-9}


def reliability(rows: list[dict], bins: int = 5) -> dict:
    scored = [r for r in rows if r["within"] is not None]
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [r for r in scored if low <= r["confidence"] < high or (b == bins - 1 and r["confidence"] == 1.0)]
        if members:
            table.append({"bin": f"{low:.1f}-{high:.1f}", "n": len(members),
                          "mean_confidence": round(sum(r["confidence"] for r in members) / len(members), 3),
                          "share_within": round(sum(r["within"] for r in members) / len(members), 3)})
    n = len(scored) or 1
    ece = sum(t["n"] / n * abs(t["mean_confidence"] - t["share_within"]) for t in table)
    brier = sum((r["confidence"] - r["within"]) ** 2 for r in scored) / n
    return {"n_decisions": len(scored), "table": table, "ece": round(ece, 4), "brier": round(brier, 4)}


def predictions(rows: list[dict]) -> dict:
    pairs = [p for r in rows for p in r["predictions"]]
    made = [p for p in pairs if p["predicted"] is not None]
    if not made:
        return {"n_pairs": len(pairs), "share_predicted": 0.0}
    errors = [p["predicted"] - p["truth"] for p in made]
    by_method = {}
    for method in sorted({p["method"] for p in made}):
        mine = [p for p in made if p["method"] == method]
        by_method[method] = {"n": len(mine), "rmse": round(math.sqrt(sum((p["predicted"] - p["truth"]) ** 2 for p in mine) / len(mine)), 4),
                             "bias": round(sum(p["predicted"] - p["truth"] for p in mine) / len(mine), 4),
                             "coverage_80": round(sum(p["low"] <= p["truth"] <= p["high"] for p in mine) / len(mine), 3)}
    return {"n_pairs": len(pairs), "share_predicted": round(len(made) / len(pairs), 3),
            "rmse": round(math.sqrt(sum(e * e for e in errors) / len(errors)), 4),
            "coverage_80": round(sum(p["low"] <= p["truth"] <= p["high"] for p in made) / len(made), 3), "by_method": by_method}


def evaluate(truth: GroundTruth, budgets: list[int], seeds: int, knowledge=None) -> dict:
    from advisor import advise
    from probes.settings import probe_settings

    grids = probe_settings().learning_rate_grids
    rows, rules_rows = [], []
    kb_tolerance = None
    for dataset, user_n in cells(truth, grids):
        truth_at_n = truths(truth, dataset, user_n)
        rules_pick = advise(situation_for(user_n), knowledge=knowledge).recommendation
        rules_rows.append({"dataset": dataset, "user_n": user_n, "pick": rules_pick.method, "confidence": rules_pick.confidence,
                           **outcome(rules_pick.method, truth_at_n, 0.01)})
        for budget in budgets:
            for seed in range(seeds):
                r = replay(truth, dataset, user_n, budget, seed, knowledge)
                rec, ev = r.report.recommendation, r.report.probe_evidence
                kb_tolerance = ev.tolerance
                preds = [{"method": m.method, "truth": truth_at_n[m.method], "predicted": m.prediction.mean if m.prediction else None,
                          "low": m.prediction.low if m.prediction else None, "high": m.prediction.high if m.prediction else None,
                          "measured": m.measured}
                         for m in ev.methods if m.measured is not None and m.method in truth_at_n]
                rows.append({"dataset": dataset, "user_n": user_n, "budget_steps": budget, "seed": seed,
                             "pick": rec.method, "confidence": rec.confidence, "conclusive": ev.conclusive,
                             "truncated": len(r.truncated), "predictions": preds, "truths": truth_at_n,
                             **outcome(rec.method, truth_at_n, ev.tolerance)})
    return summarise(rows, rules_rows, kb_tolerance or 0.01)


def evaluate_held_out(truth: GroundTruth, budgets: list[int], seeds: int) -> dict:
    """Each data set advised with a converged-accuracy model fitted on the other data sets only (the coefficients
    never see the data set they are scored on), the rest of the knowledge base unchanged."""
    import shutil
    import tempfile

    from advisor.knowledge import load_knowledge

    import fit_convergence

    knowledge_dir = Path(__file__).resolve().parents[1] / "knowledge"
    rows, rules_rows, tolerance = [], [], 0.01
    for held in truth.datasets():
        others = [d for d in truth.datasets() if d != held]
        model, _ = fit_convergence.fit(truth, budgets, seeds, fit_convergence.DEFAULT_RMSE_LIMIT, datasets=others)
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "knowledge"
            shutil.copytree(knowledge_dir, copy)
            fit_convergence.write_yaml(model, copy / "convergence.yaml")
            only = GroundTruth(runs={k: v for k, v in truth.runs.items() if k[0] == held},
                               frozen={k: v for k, v in truth.frozen.items() if k[0] == held})
            part = evaluate(only, budgets, seeds, knowledge=load_knowledge(copy))
        rows += part["rows"]
        rules_rows += part["rules_rows"]
        tolerance = part["tolerance"]
    return summarise(rows, rules_rows, tolerance)


def summarise(rows: list[dict], rules_rows: list[dict], tolerance: float) -> dict:
    def mean_regret(items):
        values = [r["regret"] for r in items if r["regret"] is not None]
        return round(sum(values) / len(values), 4) if values else None

    constant = {}
    for method in GT_METHODS:
        regrets = [max(r["truths"].values()) - r["truths"][method] for r in rows if method in r["truths"]]
        constant[f"always {method}"] = round(sum(regrets) / len(regrets), 4) if regrets else None
    by_budget = {str(b): mean_regret([r for r in rows if r["budget_steps"] == b]) for b in sorted({r["budget_steps"] for r in rows})}
    return {"n_replays": len(rows), "tolerance": tolerance,
            "mean_regret": mean_regret(rows), "mean_regret_by_budget_steps": by_budget,
            "rules_only_mean_regret": mean_regret(rules_rows), "constant_policies": constant,
            "picks": {m: sum(r["pick"] == m for r in rows) for m in sorted({r["pick"] for r in rows})},
            "share_conclusive": round(sum(r["conclusive"] for r in rows) / max(len(rows), 1), 3),
            "calibration": reliability(rows), "rules_only_calibration": reliability(rules_rows),
            "prediction": predictions(rows), "truncated_points": sum(r["truncated"] for r in rows), "rows": rows,
            "rules_rows": rules_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", nargs="+", type=int, default=[150, 300, 600])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--held-out", action="store_true",
                        help="score each data set with a converged-accuracy model fitted on the other data sets only")
    args = parser.parse_args()
    truth = GroundTruth.load()
    report = (evaluate_held_out if args.held_out else evaluate)(truth, args.budgets, args.seeds)
    report["mode"] = "held-out data sets" if args.held_out else "knowledge/convergence.yaml as committed (fitted on all data sets)"
    summary = {k: v for k, v in report.items() if k not in ("rows", "rules_rows")}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
