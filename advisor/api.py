"""advise(): the one entry point the CLI, the UI and planning scripts call."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from advisor.explain import build_caveats, conflict_text, counterfactual_text
from advisor.knowledge import KnowledgeBase, default_knowledge
from advisor.recommend import find_counterfactuals, score_situation
from advisor.report import (AdvisorReport, Conflict, CounterfactualText, Reason, Recommendation, SourceRef,
                            make_provenance)
from advisor.situation import Situation

if TYPE_CHECKING:
    from probes.result import SuiteResult


def situation_fields_from_probe(suite: "SuiteResult") -> dict:
    """What a probe run tells about the situation: task kind, data size, model size, this machine's GPU."""
    totals = [t.total_params for t in suite.trials if t.total_params]
    return {
        "task_type": "classification" if suite.task_kind == "classification" else "generation",
        "n_labeled_examples": suite.data_profile.n_rows,
        "model_params_b": round(max(totals) / 1e9, 6) if totals else None,
        "gpu_memory_gb": suite.gpu_memory_gb,
    }


def advise(
    situation: Situation,
    probe_results: "Optional[SuiteResult]" = None,
    knowledge: Optional[KnowledgeBase] = None,
) -> AdvisorReport:
    """Recommend an adaptation method for ``situation``; with ``probe_results`` the measurements count too."""
    kb = knowledge or default_knowledge()
    evidence = None
    contributions: dict[str, float] = {}
    if probe_results is not None:
        from advisor.fusion import fuse_probe_results

        evidence = fuse_probe_results(probe_results, situation.n_labeled_examples, kb)
        contributions = evidence.contributions
    scored = score_situation(situation, kb, contributions)
    rules_only = scored if not contributions else score_situation(situation, kb)
    top = scored.top

    sibling = kb.methods[top.method].same_evidence_as
    reasons = []
    for outcome in scored.outcomes:
        if not outcome.fired:
            continue
        effect = outcome.weighted_favor.get(top.method, outcome.weighted_favor.get(sibling, 0.0) if sibling else 0.0)
        rule = kb.rule(outcome.rule_id)
        if effect == 0.0 and not outcome.infeasible:
            continue
        stance = "supports" if effect > 0 else "opposes" if effect < 0 else "rules out alternatives"
        reasons.append(Reason(rule_id=rule.id, stance=stance, score_effect=effect, grade=outcome.grade,
                              source_ids=list(rule.sources), text=rule.rationale.strip()))
    reasons.sort(key=lambda r: -abs(r.score_effect))

    fired = {o.rule_id for o in scored.outcomes if o.fired}
    conflicts, seen_pairs = [], set()
    for rule in kb.rules:
        for other in [*rule.contradicts, *rule.contradicted_by]:
            pair = tuple(sorted((rule.id, other)))
            if rule.id in fired and other in fired and pair not in seen_pairs:
                seen_pairs.add(pair)
                a, b = kb.rule(pair[0]), kb.rule(pair[1])
                stronger, weaker = (a, b) if kb.rule_grade_weight(a) >= kb.rule_grade_weight(b) else (b, a)
                text = conflict_text(stronger.id, weaker.id, kb)
                if evidence is not None and evidence.leader:
                    text += f" Your probes point to {evidence.leader}."
                conflicts.append(Conflict(rule_ids=pair, stronger_rule_id=stronger.id, text=text))

    counterfactuals = [
        CounterfactualText(**cf.model_dump(), text=counterfactual_text(cf, kb))
        for cf in find_counterfactuals(situation, kb, rules_only.top.method)
    ]
    cited = {s for r in reasons for s in r.source_ids} | {s for c in conflicts for rid in c.rule_ids for s in kb.rule(rid).sources}
    cited |= set(kb.methods[top.method].prior_sources) | set(kb.recipes[top.method].get("sources", []))
    sources = [SourceRef(**kb.sources[sid].model_dump()) for sid in sorted(cited)]
    recommendation = Recommendation(
        method=top.method, method_name=top.name, confidence=top.probability,
        evidence_basis="rules+probes" if evidence is not None else "rules",
        ranked=scored.ranked, reasons=reasons, counterfactuals=counterfactuals,
        caveats=build_caveats(scored, kb, evidence),
        config={"method": top.method, **{k: v for k, v in kb.recipes[top.method].items() if k != "sources"}},
    )
    return AdvisorReport(
        situation=situation, recommendation=recommendation, conflicts=conflicts,
        rule_trace=scored.outcomes, sources=sources, probe_evidence=evidence,
        provenance=make_provenance(kb.content_hash, device=probe_results.device if probe_results is not None else None),
    )
