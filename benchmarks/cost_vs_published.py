"""The cost model against published peak training memory (knowledge/published_memory.yaml).

    python benchmarks/cost_vs_published.py    # prints the table, writes benchmarks/results/cost_vs_published.json
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from advisor.costs import estimate_cost
from advisor.costs.common import ModelShapeEstimate
from advisor.knowledge import default_knowledge
from advisor.situation import make_situation
from knowledge import KNOWLEDGE_DIR

RESULTS = Path(__file__).resolve().parent / "results" / "cost_vs_published.json"


def compare() -> dict:
    table = yaml.safe_load((KNOWLEDGE_DIR / "published_memory.yaml").read_text(encoding="utf-8"))
    kb = default_knowledge()
    situation = make_situation(table["model"]["situation"])
    shape = ModelShapeEstimate(**table["model"]["shape"], origin=f"given ({table['model']['name']})")
    rows = []
    for setup in table["setups"]:
        overrides = {**table["common_overrides"], **setup["overrides"]}
        cost = estimate_cost(setup["method"], situation, kb, shape, overrides=overrides)
        estimate = cost.recipe_training_memory_gib if cost.recipe_training_memory_gib is not None else cost.training_memory_gib
        rows.append({"setup": setup["label"], "method": setup["method"], "published_gib": setup["published_gib"],
                     "estimate_gib": round(estimate, 2), "relative_error": round(estimate / setup["published_gib"] - 1, 4),
                     "trainable_params": cost.trainable_params})
    return {"model": table["model"]["name"], "source": table["source"], "tolerance_fraction": table["tolerance_fraction"],
            "assumptions": table["common_overrides"], "rows": rows, "other_rows": [_other_row(o, kb) for o in table["other_setups"]]}


def _other_row(setup: dict, kb) -> dict:
    shape = ModelShapeEstimate(**setup["shape"], origin="given")
    cost = estimate_cost(setup["method"], make_situation(setup["situation"]), kb, shape, overrides=setup["overrides"])
    estimate_gb = cost.recipe_training_memory_gib * 2**30 / 1e9
    return {"setup": setup["label"], "source": setup["source"], "published_gb": setup["published_gb"],
            "estimate_gb": round(estimate_gb, 1), "relative_error": round(estimate_gb / setup["published_gb"] - 1, 4),
            "tested": setup["tested"], "bound": setup.get("bound")}


def main() -> None:
    result = compare()
    print(f"{'setup':<30} {'published GiB':>13} {'estimate GiB':>12} {'error':>7}")
    for row in result["rows"]:
        print(f"{row['setup']:<30} {row['published_gib']:>13.2f} {row['estimate_gib']:>12.2f} {row['relative_error']:>+7.1%}")
    for row in result["other_rows"]:
        print(f"{row['setup'][:60]:<60} published {row['published_gb']:>6} GB, estimate {row['estimate_gb']:>7.1f} GB "
              f"({row['relative_error']:+.0%}{', upper bound' if row['bound'] else ''}{'' if row['tested'] else ', setup not matched'})")
    RESULTS.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
