"""The report as Markdown (a front-end of the report model; the JSON is the report itself)."""
from __future__ import annotations

import json

from advisor.report import AdvisorReport


def render_markdown(report: AdvisorReport) -> str:
    rec = report.recommendation
    s = report.situation
    lines = [
        "# Tuning Advisor report",
        "",
        f"**Recommendation: {rec.method_name} (`{rec.method}`)**, confidence {rec.confidence:.0%}, based on {rec.evidence_basis}.",
        "",
        f"Situation: {s.task_type.value}, {s.n_labeled_examples:,} labelled examples, {s.model_params_b:g}B-parameter model "
        f"({s.model_access.value}), {s.n_gpus} x {s.gpu_memory_gb:g} GB GPU, {s.n_tasks} task(s).",
        "",
        "## Ranked methods",
        "",
        "| rank | method | score | share | feasible | train memory (GiB) | est. train hours | artefact / task (MiB) | extra tokens / request |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in rec.ranked:
        feasible = "yes" if m.feasible else "no: " + "; ".join(m.infeasible_reasons)
        lines.append(f"| {m.rank} | {m.name} | {m.score:.2f} | {m.probability:.0%} | {feasible} | {m.cost.training_memory_gib:.1f} | "
                     f"{m.cost.est_training_hours:.2f} | {m.cost.artifact_size_mib_per_task:.3g} | {m.cost.extra_tokens_per_request} |")
    lines += ["", "## Why", ""]
    for reason in rec.reasons:
        lines.append(f"- **{reason.stance}** ({reason.score_effect:+.2f}, {reason.grade}; {', '.join(reason.source_ids)}) "
                     f"`{reason.rule_id}`: {reason.text}")
    if report.conflicts:
        lines += ["", "## Where sources disagree", ""]
        lines += [f"- {c.text}" for c in report.conflicts]
    if report.probe_evidence:
        ev = report.probe_evidence
        lines += ["", "## Probe evidence (measured on your data)", "",
                  f"Metric: {ev.metric_name}. Largest probe: {ev.probe_n_train_examples:,} training examples; "
                  f"your data: {ev.user_n_examples:,}. No-training (zero-shot) baseline: "
                  + (f"{ev.baseline_score:.3f}" if ev.baseline_score is not None else "n/a")
                  + (f"; linear probe on frozen features: {ev.linear_probe_score:.3f}" if ev.linear_probe_score is not None else "")
                  + ".", "",
                  "| method | measured (n, score) | predicted at your size | 80% interval | P(best) | still improving | tokens/s | est. full training (h) |",
                  "|---|---|---|---|---|---|---|---|"]
        for fit in ev.fits:
            measured = ", ".join(f"({n:,}, {y:.3f})" for n, y in fit.measured) or "failed"
            lines.append(f"| {fit.method} | {measured} | {fit.at_user_size.mean:.3f} | {fit.at_user_size.low:.3f}-{fit.at_user_size.high:.3f} | "
                         f"{ev.p_best.get(fit.method, 0):.0%} | {'yes' if fit.still_improving else 'no'} | "
                         f"{fit.measured_tokens_per_s or 0:,.0f} | {fit.est_full_training_hours if fit.est_full_training_hours is not None else 'n/a'} |")
        for cross in ev.crossovers:
            if cross.n_examples_median and cross.share_of_bootstrap_with_crossover >= 0.5:
                lines.append(f"\n{cross.leader_large} overtakes {cross.leader_small} at about {cross.n_examples_median:,.0f} examples "
                             f"(80% interval {cross.n_examples_low:,.0f}-{cross.n_examples_high:,.0f}; crossing found in "
                             f"{cross.share_of_bootstrap_with_crossover:.0%} of bootstrap samples). The seed posts put the switch at ~500 and ~2,000-5,000.")
            else:
                lines.append(f"\nNo reliable crossover between {cross.leader_small} and {cross.leader_large} between 10 and 1,000,000 "
                             f"examples on this data (a crossing appears in only {cross.share_of_bootstrap_with_crossover:.0%} of bootstrap samples).")
        for method, predictions in ev.what_if_by_method.items():
            what = "; ".join(f"{p.n_examples:,}: {p.mean:.3f} ({p.low:.3f}-{p.high:.3f})" for p in predictions)
            lines.append(f"\nWhat if you label more ({method}): {what}")
    if rec.counterfactuals:
        lines += ["", "## What would change the answer", ""]
        lines += [f"- {c.text}" for c in rec.counterfactuals]
    if rec.caveats:
        lines += ["", "## Caveats", ""]
        lines += [f"- {c}" for c in rec.caveats]
    lines += ["", "## Starting configuration", "", "```json"]
    lines += [json.dumps(rec.config, indent=2), "```", "", "## Sources", ""]
    for src in report.sources:
        link = f" <{src.url}>" if src.url else ""
        lines.append(f"- `{src.id}` {src.authors} ({src.year}). *{src.title}*. {src.grade}.{link}")
    p = report.provenance
    lines += ["", f"_Tuning Advisor {p.advisor_version}, knowledge {p.knowledge_hash}, report schema {report.schema_version}._", ""]
    return "\n".join(lines)
