"""advise(): the one entry point the CLI, the UI and planning scripts call.

Steps: fuse the probe measurements (if any) -> score every method (rules + costs + probe evidence) -> explain
(reasons, conflicts, counterfactuals, caveats, sources) -> the versioned report.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from advisor.explain import build_caveats, conflict_text, counterfactual_text
from advisor.knowledge import KnowledgeBase, default_knowledge
from advisor.numbers import counted
from advisor.recommend import ScoredSituation, find_counterfactuals, score_situation
from advisor.render import render_markdown
from advisor.report import AdvisorReport, Conflict, CounterfactualText, Reason, Recommendation, make_provenance
from advisor.situation import Situation

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence
    from probes.result import SuiteResult

__all__ = ["advise", "to_markdown", "situation_fields_from_probe"]


def situation_fields_from_probe(suite: "SuiteResult") -> dict:
    """Defaults a probe can supply for situation fields the user left unanswered: the task kind and data size of
    the probed data, and the probed model's size. Never the probe machine's hardware: the situation is the user's
    deployment, not this machine. Callers must let every answer the user gave win."""
    totals = [t.total_params for t in suite.trials if t.total_params]
    return {
        "task_type": "classification" if suite.task_kind == "classification" else "generation",
        "n_labeled_examples": suite.data_profile.n_rows,
        "model_params_b": round(max(totals) / 1e9, 6) if totals else None,
        "model_architecture": suite.model_architecture or None,
    }


def to_markdown(report: AdvisorReport) -> str:
    """The report as Markdown."""
    return render_markdown(report)


def _reasons(scored: ScoredSituation, kb: KnowledgeBase) -> list[Reason]:
    """Fired rules that moved the recommended method's score (or ruled out alternatives), strongest first."""
    top = scored.top
    sibling = kb.methods[top.method].same_evidence_as
    reasons = []
    for outcome in scored.outcomes:
        if not outcome.fired:
            continue
        effect = outcome.weighted_favor.get(top.method, outcome.weighted_favor.get(sibling, 0.0) if sibling else 0.0)
        if effect == 0.0 and not outcome.infeasible:
            continue
        rule = kb.rule(outcome.rule_id)
        stance = "supports" if effect > 0 else "opposes" if effect < 0 else "rules out alternatives"
        reasons.append(Reason(rule_id=rule.id, stance=stance, score_effect=effect, grade=outcome.grade,
                              source_ids=list(rule.sources), text=rule.rationale.strip()))
    return sorted(reasons, key=lambda r: -abs(r.score_effect))


def _conflicts(scored: ScoredSituation, kb: KnowledgeBase, evidence: "Optional[ProbeEvidence]") -> list[Conflict]:
    """Pairs of fired rules that contradict each other, the better-graded side named."""
    fired = {o.rule_id for o in scored.outcomes if o.fired}
    pairs = sorted({tuple(sorted((rule.id, other))) for rule in kb.rules
                    for other in [*rule.contradicts, *rule.contradicted_by] if rule.id in fired and other in fired})
    conflicts = []
    for pair in pairs:
        a, b = kb.rule(pair[0]), kb.rule(pair[1])
        stronger, weaker = (a, b) if kb.rule_grade_weight(a) >= kb.rule_grade_weight(b) else (b, a)
        text = conflict_text(stronger.id, weaker.id, kb)
        if evidence is not None and evidence.leader:
            text += f" Your probes point to {kb.methods[evidence.leader].name if evidence.leader in kb.methods else evidence.leader}" + (
                " (measured on a proxy model)." if evidence.proxy else ".")
        conflicts.append(Conflict(rule_ids=pair, stronger_rule_id=stronger.id, text=text))
    return conflicts


def _cited_sources(reasons: list[Reason], conflicts: list[Conflict], method: str, kb: KnowledgeBase):
    cited = {s for r in reasons for s in r.source_ids}
    cited |= {s for c in conflicts for rule_id in c.rule_ids for s in kb.rule(rule_id).sources}
    cited |= set(kb.methods[method].prior_sources) | set(kb.recipes[method].get("sources", []))
    return [kb.sources[source_id] for source_id in sorted(cited)]


def _evidence_group(method: str, kb: KnowledgeBase) -> str:
    """Methods that share their evidence (LoRA and its variants) form one group."""
    return kb.methods[method].same_evidence_as or method


def _group_confidence(scored: ScoredSituation, kb: KnowledgeBase) -> tuple[float, list[str]]:
    """The recommended method's share plus its evidence siblings' (variants within rerun noise of each other
    are not competing answers), and the names of those siblings."""
    group = _evidence_group(scored.top.method, kb)
    members = [m for m in scored.ranked if m.feasible and _evidence_group(m.method, kb) == group]
    return min(1.0, round(sum(m.probability for m in members), 6)), [m.name for m in members if m.method != scored.top.method]


def _confidence(scored: ScoredSituation, kb: KnowledgeBase) -> tuple[float, str, list[str]]:
    """(confidence, what it means, caveats about it)."""
    top = scored.top
    if scored.decided_by_probes and top.p_within_tolerance is not None:
        tolerance = kb.scoring.decision_tolerance
        return top.p_within_tolerance, (f"probability that {top.name} is within {counted(tolerance * 100, 'accuracy point')} of the "
                                        "best method after full-length training (probe evidence, Monte Carlo)"), []
    confidence, siblings = _group_confidence(scored, kb)
    caveats = []
    if siblings:
        caveats.append(f"The confidence counts {top.name} together with {', '.join(siblings)}: they train the same kind "
                       "of adapter and published comparisons find them within rerun noise of each other; a probe can separate them.")
    return confidence, "rules-only score share (softmax over the rules' scores), not a measured probability", caveats


def _config(method: str, kb: KnowledgeBase, evidence: "Optional[ProbeEvidence]") -> dict:
    """The recipe's starting configuration; with a probe on the user's model that swept this method, its chosen rate."""
    config = {"method": method, **{k: v for k, v in kb.recipes[method].items() if k != "sources"}}
    measured = evidence.method(method) if evidence is not None and evidence.proxy is None else None
    if measured is not None and measured.learning_rate is not None and "learning_rate" in config:
        config["published_learning_rate"] = config["learning_rate"]
        config["learning_rate"] = measured.learning_rate
        config["learning_rate_source"] = "chosen by your probe's sweep on your model (constant rate after warmup)"
    return config


def _recommendation(situation: Situation, scored: ScoredSituation, rules_only: ScoredSituation, kb: KnowledgeBase,
                    evidence: "Optional[ProbeEvidence]", reasons: list[Reason]) -> Recommendation:
    top = scored.top
    counterfactuals = [CounterfactualText(**cf.model_dump(), text=counterfactual_text(cf, kb))
                       for cf in find_counterfactuals(situation, kb, rules_only.top.method)
                       if cf.new_method != top.method]
    confidence, meaning, confidence_caveats = _confidence(scored, kb)
    caveats = build_caveats(scored, kb, evidence) + confidence_caveats
    basis = "rules" if evidence is None else "rules+proxy probes" if evidence.proxy else "rules+probes"
    return Recommendation(
        method=top.method, method_name=top.name, confidence=confidence, confidence_meaning=meaning,
        evidence_basis=basis,
        ranked=scored.ranked, reasons=reasons, counterfactuals=counterfactuals,
        caveats=caveats,
        config=_config(top.method, kb, evidence),
    )


def advise(
    situation: Situation,
    probe_results: "Optional[SuiteResult]" = None,
    knowledge: Optional[KnowledgeBase] = None,
) -> AdvisorReport:
    """Recommend an adaptation method for ``situation``; with ``probe_results`` the measurements count too.

    The situation is always the user's own: probe facts (the probed model's size, the probe machine's GPU) never
    replace it; a probe on a different model is weighed as proxy evidence.
    """
    kb = knowledge or default_knowledge()
    evidence = decision = None
    if probe_results is not None:
        from advisor.fusion import fuse

        architecture = situation.model_architecture.value if situation.model_architecture else None
        evidence, decision = fuse(probe_results, situation.n_labeled_examples, kb, situation.model_params_b, architecture)
    scored = score_situation(situation, kb, decision)
    if scored.decided_by_probes:
        from advisor.fusion import with_decision

        evidence = with_decision(evidence, decision, scored.ranked, kb)
    rules_only = scored if decision is None else score_situation(situation, kb)
    reasons = _reasons(scored, kb)
    conflicts = _conflicts(scored, kb, evidence)
    return AdvisorReport(
        situation=situation, recommendation=_recommendation(situation, scored, rules_only, kb, evidence, reasons),
        conflicts=conflicts, rule_trace=scored.outcomes, sources=_cited_sources(reasons, conflicts, scored.top.method, kb),
        probe_evidence=evidence,
        provenance=make_provenance(kb.content_hash, device=probe_results.device if probe_results is not None else None),
    )
