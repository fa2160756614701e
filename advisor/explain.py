"""Text shown to users, built from traces (pure functions; no scoring happens here)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor.knowledge import KnowledgeBase
from advisor.numbers import counted
from advisor.questionnaire import field_label, field_noun, option_label
from advisor.recommend import Counterfactual, ScoredSituation

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def counterfactual_text(cf: Counterfactual, kb: KnowledgeBase) -> str:
    method = kb.methods[cf.new_method].name
    if cf.direction in ("at_least", "at_most"):
        bound = "or more" if cf.direction == "at_least" else "or fewer"
        label = field_noun(cf.field)
        if cf.direction == "at_most" and cf.new_value == 0:
            return f"With no {label} (now {_number(cf.current_value)}), the answer becomes {method}."
        return f"With {_number(cf.new_value)} {bound} {label} (now {_number(cf.current_value)}), the answer becomes {method}."
    question = field_label(cf.field).rstrip("?")
    return (f"If '{question}' were '{option_label(cf.field, cf.new_value)}' (now '{option_label(cf.field, cf.current_value)}'), "
            f"the answer becomes {method}.")


def conflict_text(stronger: str, weaker: str, kb: KnowledgeBase) -> str:
    s_rule, w_rule = kb.rule(stronger), kb.rule(weaker)
    return (
        f"Sources disagree: '{weaker}' ({kb.rule_grade(w_rule)}: {', '.join(w_rule.sources)}) versus "
        f"'{stronger}' ({kb.rule_grade(s_rule)}: {', '.join(s_rule.sources)}). The advisor weighs the "
        f"{kb.rule_grade(s_rule)} evidence more."
    )


def probe_direction_text(evidence: "ProbeEvidence", scored: "ScoredSituation | None" = None) -> str:
    if not evidence.leader:
        return "Your probes produced no usable measurements, so the rules decide."
    leader = evidence.method(evidence.leader)
    verdict = "conclusively" if evidence.conclusive else "tentatively (inconclusive)"
    where = "on a proxy model" if evidence.proxy else "on your data"
    decided = next((m for m in scored.ranked if m.method == evidence.leader), None) if scored is not None else None
    if leader.prediction is not None:
        p = leader.prediction
        number = (f"a full-length run is predicted at {evidence.metric_name} {p.mean:.3f} (80% interval {p.low:.3f}-{p.high:.3f}) "
                  f"with {evidence.user_n_examples:,} examples")
    else:
        number = f"measured {evidence.metric_name} {leader.measured:.3f} {leader.what_was_measured} (no full-length prediction)"
        if decided is not None and decided.expected_accuracy is not None:
            number += f"; expected {decided.expected_accuracy:.3f} for a full-length run ({decided.evidence})"
    share = evidence.p_within_tolerance.get(evidence.leader, 0)
    return (f"Your probes {where} point {verdict} to {evidence.leader}: {number}; within {counted(evidence.tolerance * 100, 'point')} "
            f"of the best in {share:.0%} of simulations.")


def build_caveats(scored: ScoredSituation, kb: KnowledgeBase, evidence: "ProbeEvidence | None") -> list[str]:
    caveats = [kb.rule(o.rule_id).rationale for o in scored.outcomes if o.caveat]
    top = scored.top
    recipe = kb.recipes.get(top.method, {})
    if recipe.get("notes"):
        caveats.append(f"{top.name}: {recipe['notes']}")
    if not top.feasible:
        caveats.append("No method is feasible under these constraints; see each method's reason in the ranking.")
    if len(scored.ranked) > 1 and scored.ranked[1].feasible and top.score - scored.ranked[1].score < kb.scoring.softmax_temperature:
        caveats.append(f"Close call: {scored.ranked[1].name} scores within {top.score - scored.ranked[1].score:.2f} of {top.name}; a probe on your data is the way to separate them.")
    if evidence is None:
        caveats.append("Rules-only advice: priors from published results and rules of thumb, not measurements on your data. Run a probe to check it.")
    else:
        caveats.append(probe_direction_text(evidence, scored))
        if evidence.proxy:
            caveats.append(evidence.proxy.text)
        caveats.extend(f"Probe inconclusive: {reason}." for reason in evidence.inconclusive_reasons)
        caveats.extend(f"To settle it: {step}." for step in evidence.settle)
    return caveats
