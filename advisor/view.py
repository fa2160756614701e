"""The page's view model: everything the UI shows, built from one AdvisorReport (pure: no Streamlit, no torch).

Human labels come from the Method registry (``kb.methods[m].name``), the questionnaire's labels and the knowledge
base's rules and sources; numbers are formatted with units; the reason that decided the answer comes first.
To show a new report field, add it to the matching ``*View`` dataclass and fill it in its builder below.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from advisor.knowledge import KnowledgeBase
from advisor.numbers import model_size_text, params_text
from advisor.questionnaire import OPTION_LABELS, option_label

if TYPE_CHECKING:
    from advisor.fusion import ProbeEvidence
    from advisor.report import AdvisorReport, CounterfactualText
    from probes.result import SuiteResult

METRIC_LABELS = {"accuracy": "accuracy", "token_accuracy": "next-token accuracy on the completions"}
STANCE_LABELS = {"supports": "For", "opposes": "Against", "rules out alternatives": "Rules out others"}
# CLI wording in shared texts, as a UI user would say it.
CLI_PHRASES = (
    (r"\(--budget-minutes 1\)", "(a time budget of 1 minute)"),
    (r"\(--budget-minutes ([\d.]+)\)", r"(a time budget of \1 minutes)"),
    (r"--budget-minutes ([\d.]+)", r"a time budget of \1 minutes"),
    (r"\(--budget-steps (\d+)\)", r"(a budget of \1 steps)"),
    (r"--budget-steps (\d+)", r"a budget of \1 steps"),
    (r" ?\(--max-examples\)", ""),
    (r"--text-column", "the text column"), (r"--label-column", "the label column"),
    (r"--prompt-column", "the prompt column"), (r"--completion-column", "the completion column"),
)


# -- numbers ---------------------------------------------------------------------------------------------------
def count_text(n: float) -> str:
    return f"{int(round(n)):,}"


def memory_text(gib: Optional[float]) -> str:
    """13.04 GiB -> '13.0 GiB'; 0.5 GiB -> '512 MiB'; tiny -> '< 1 MiB'."""
    if gib is None:
        return "not measured"
    if gib >= 1:
        return f"{gib:,.1f} GiB"
    mib = gib * 1024
    return f"{mib:,.0f} MiB" if mib >= 1 else "< 1 MiB"


def mib_text(mib: Optional[float]) -> str:
    return memory_text(None if mib is None else mib / 1024)


def duration_text(hours: Optional[float]) -> str:
    """0.0005 h -> '2 s'; 0.4 h -> '24 min'; 3.2 h -> '3.2 h'; 500 h -> '21 days'."""
    if hours is None:
        return "unknown"
    seconds = hours * 3600
    if seconds < 1:
        return "< 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if hours < 1.5:
        return f"{seconds / 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:,.0f} days"


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def score_text(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.1%}"


# -- text ------------------------------------------------------------------------------------------------------
# Abbreviations whose full stop does not end a sentence ("Hu et al. 2021", "e.g. BERT").
_ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "vs.", "cf.", "etc.", "Fig.", "Eq.", "Sec.", "No.", "approx.")


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for match in re.finditer(r"[.!?](?=\s|$)", text):
        head = text[:match.end()]
        if not head.endswith(_ABBREVIATIONS) and not re.search(r"(^|\s)[A-Z]\.$", head):
            return head
    return text


def _first_clause(text: str) -> str:
    """The first sentence up to its first parenthesis, semicolon or colon: 'Needs about 135.9 GiB with its recipe'."""
    return re.split(r" \(|; |: ", _first_sentence(text), maxsplit=1)[0].rstrip(".")


def humanize(text: str, kb: KnowledgeBase) -> str:
    """Method ids -> method names, 'rule <id>' -> the rule's point, enum values and CLI flags -> plain words."""
    text = re.sub(r"\brule ([a-z0-9][a-z0-9-]+)", lambda m: _rule_point(m.group(1), kb), text)
    for pattern, replacement in CLI_PHRASES:
        text = re.sub(pattern, replacement, text)
    ids = sorted(kb.methods, key=len, reverse=True)
    text = re.sub(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])", lambda m: kb.methods[m.group(1)].name, text)
    for labels in OPTION_LABELS.values():
        for value, label in labels.items():
            if "_" in value:
                text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", lower_first(label), text)
    return text


def lower_first(label: str) -> str:
    """'Open weights' -> 'open weights' for running text; a leading acronym stays ('GPU memory', 'QLoRA needs')."""
    return label if re.match(r"[A-Z][A-Z0-9]|[A-Z][a-z]*[A-Z]", label) else label[:1].lower() + label[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rule_point(rule_id: str, kb: KnowledgeBase) -> str:
    try:
        return _first_sentence(kb.rule(rule_id).rationale).rstrip(".")
    except KeyError:
        return f"rule {rule_id}"


def _source_label(source) -> str:
    first = source.authors.split(",")[0].strip()
    author = first if " et al" in first or "," not in source.authors else f"{first} et al."
    return f"{author} {source.year}"


# -- view dataclasses --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReasonView:
    stance: str
    text: str
    grade: str
    sources: list[tuple[str, Optional[str]]]  # (label, url)


@dataclass(frozen=True)
class ProbeView:
    metric_label: str
    about: str
    proxy_note: Optional[str]
    evaluation_note: str
    verdict: str
    rows: list[dict]
    baseline_line: Optional[str]
    not_measured: list[str]
    inconclusive: list[str]
    settle: list[str]
    baseline_score: Optional[float]
    linear_probe_score: Optional[float]


@dataclass(frozen=True)
class PageView:
    method: str
    method_name: str
    summary: str
    confidence: str
    evidence: str
    deciding_reason: str
    situation_summary: str
    ranked_rows: list[dict]
    ruled_out: list[tuple[str, str]]
    cost_rows: list[dict]
    reasons: list[ReasonView]
    conflicts: list[str]
    counterfactuals: list[str]
    caveats: list[str]
    config: dict[str, Any]
    probe: Optional[ProbeView] = None
    notes: list[str] = field(default_factory=list)


# -- builders ----------------------------------------------------------------------------------------------------
def situation_summary(situation) -> str:
    s = situation
    gpu = "no GPU" if s.gpu_memory_gb == 0 or s.n_gpus == 0 else f"{s.n_gpus} × {s.gpu_memory_gb:g} GB GPU"
    tasks = f"{s.n_tasks:,} task" + ("s" if s.n_tasks != 1 else "")
    return (f"{option_label('task_type', s.task_type)} · {count_text(s.n_labeled_examples)} labelled examples · "
            f"{model_size_text(s.model_params_b)}-parameter model ({lower_first(option_label('model_access', s.model_access))}) · "
            f"{gpu} · {tasks}")


def deciding_reason(report: "AdvisorReport", kb: KnowledgeBase) -> str:
    """The one reason that settled the answer: a constraint that rules better methods out, the probe, or the top rule."""
    ranked = report.recommendation.ranked
    top = ranked[0]
    if not top.feasible:
        return "Nothing fits these constraints: " + lower_first(humanize("; ".join(top.infeasible_reasons), kb)).rstrip(".") + "."
    trainable = [m for m in ranked if kb.methods[m.method].needs_training]
    if trainable and not any(m.feasible for m in trainable) and not kb.methods[top.method].needs_training:
        common = Counter(r for m in trainable for r in m.infeasible_reasons).most_common(1)[0][0]
        return (f"Nothing trainable fits: {lower_first(humanize(common, kb)).rstrip('.')}. {top.name} needs no training, "
                "so it is the best option that remains.")
    blocked = [m for m in ranked if not m.feasible and m.score > top.score]
    if blocked:
        best = max(blocked, key=lambda m: m.score)
        why = lower_first(humanize(best.infeasible_reasons[0], kb)).rstrip(".")
        return f"{best.name} would score higher but is ruled out: {why}. {top.name} is the best option that fits."
    feasible = [m for m in ranked if m.feasible]
    rules_top = max(feasible, key=lambda m: m.score - m.probe_contribution)
    if report.probe_evidence is not None and rules_top.method != top.method:
        return (f"Your probe measurements decided it: the rules alone favour {rules_top.name}, the measurements on "
                f"your data move {top.name} ahead.")
    supporting = [r for r in report.recommendation.reasons if r.stance == "supports"]
    if supporting:
        return humanize(_first_sentence(max(supporting, key=lambda r: r.score_effect).text), kb)
    runner = feasible[1] if len(feasible) > 1 else None
    margin = f", {top.score - runner.score:.2f} ahead of {runner.name}" if runner else ""
    return (f"No rule moves the answer much here: {top.name} has the best prior from published results{margin}. "
            f"{kb.methods[top.method].summary}")


def _ranked_rows(report: "AdvisorReport", kb: KnowledgeBase) -> list[dict]:
    """One short row per method (fits on a phone); the full reasons a method does not fit are in ``ruled_out``."""
    return [{"#": m.rank, "Method": m.name, "Share": m.probability,
             "Fits?": "yes" if m.feasible else "no: " + lower_first(_first_clause(humanize(m.infeasible_reasons[0], kb)))}
            for m in report.recommendation.ranked]


def _ruled_out(report: "AdvisorReport", kb: KnowledgeBase) -> list[tuple[str, str]]:
    """(method name, every reason it does not fit) for each infeasible method, in rank order."""
    return [(m.name, " ".join(dict.fromkeys(upper_first(humanize(r, kb)).rstrip(".") + "." for r in m.infeasible_reasons)))
            for m in report.recommendation.ranked if not m.feasible]


def _cost_rows(report: "AdvisorReport") -> list[dict]:
    return [{"Method": m.name, "Trainable parameters": params_text(m.cost.trainable_params) if m.cost.trainable_params else "none",
             "Training memory": memory_text(m.cost.training_memory_gib) if m.cost.trainable_params else "—",
             "Training time": duration_text(m.cost.est_training_hours) if m.cost.trainable_params else "—",
             "Stored per task": mib_text(m.cost.artifact_size_mib_per_task) if m.cost.artifact_size_mib_per_task else "nothing",
             "Serving memory": memory_text(m.cost.serving_memory_gib),
             "Extra tokens per request": count_text(m.cost.extra_tokens_per_request)}
            for m in report.recommendation.ranked]


def _reasons(report: "AdvisorReport", kb: KnowledgeBase) -> list[ReasonView]:
    sources = {s.id: s for s in report.sources}
    return [ReasonView(stance=STANCE_LABELS.get(r.stance, r.stance), text=humanize(" ".join(r.text.split()), kb), grade=r.grade,
                       sources=[(_source_label(sources[sid]), sources[sid].url) if sid in sources else (sid, None)
                                for sid in r.source_ids])
            for r in report.recommendation.reasons]


def _conflicts(report: "AdvisorReport", kb: KnowledgeBase) -> list[str]:
    texts = []
    for conflict in report.conflicts:
        weaker = next(r for r in conflict.rule_ids if r != conflict.stronger_rule_id)
        strong, weak = kb.rule(conflict.stronger_rule_id), kb.rule(weaker)
        texts.append(f"{kb.rule_grade(weak).capitalize()}: {humanize(_first_sentence(weak.rationale), kb)} "
                     f"{kb.rule_grade(strong).capitalize()}: {humanize(_first_sentence(strong.rationale), kb)} "
                     f"The {kb.rule_grade(strong)} evidence weighs more.")
    return texts


def counterfactual_lines(counterfactuals: "list[CounterfactualText]", shown_method: str, kb: KnowledgeBase) -> list[str]:
    """One line per change that would give a different answer; never one that repeats the shown answer."""
    lines: list[str] = []
    for cf in counterfactuals:
        line = humanize(cf.text, kb)
        if cf.new_method != shown_method and line not in lines:
            lines.append(line)
    return lines


def _caveats(report: "AdvisorReport", kb: KnowledgeBase) -> list[str]:
    """Caveats, without the probe's own lines (the probe panel shows them, once)."""
    from advisor.explain import probe_direction_text

    evidence = report.probe_evidence
    probe_lines = set()
    if evidence is not None:
        probe_lines = {probe_direction_text(evidence), *(f"Probe inconclusive: {r}." for r in evidence.inconclusive_reasons)}
    return [humanize(" ".join(c.split()), kb) for c in report.recommendation.caveats if c not in probe_lines]


def build_page(report: "AdvisorReport", kb: KnowledgeBase, suite: "Optional[SuiteResult]" = None) -> PageView:
    rec = report.recommendation
    basis = {"rules+probes": "your probe measurements + rules", "rules+proxy probes": "rules + measurements on a proxy model"
             }.get(rec.evidence_basis, "rules only")
    return PageView(
        method=rec.method, method_name=rec.method_name, summary=kb.methods[rec.method].summary,
        confidence=f"{rec.confidence:.0%}", evidence=basis, deciding_reason=deciding_reason(report, kb),
        situation_summary=situation_summary(report.situation), ranked_rows=_ranked_rows(report, kb),
        ruled_out=_ruled_out(report, kb),
        cost_rows=_cost_rows(report), reasons=_reasons(report, kb), conflicts=_conflicts(report, kb),
        counterfactuals=counterfactual_lines(rec.counterfactuals, rec.method, kb), caveats=_caveats(report, kb),
        config=rec.config,
        probe=build_probe_view(report, kb, suite) if report.probe_evidence is not None else None,
    )


# -- probe panel -------------------------------------------------------------------------------------------------
def _name(method: str, kb: KnowledgeBase) -> str:
    return kb.methods[method].name if method in kb.methods else method.replace("_", " ")


def _points(value: float) -> str:
    return f"{value * 100:+.1f} pts"


def _paired_text(evidence: "ProbeEvidence", method: str, versus: Optional[str]) -> str:
    if versus is None or method == versus:
        return "—"
    diff = evidence.gap(method, versus)
    if diff is None:
        return "—"
    mark = "" if diff.resolved else " (not resolved)"
    return f"{_points(diff.difference)} ({diff.low * 100:+.1f} to {diff.high * 100:+.1f}){mark}"


def _prediction_text(m) -> str:
    if m.prediction is None:
        return f"not predicted: {m.no_prediction_reason}" if m.no_prediction_reason else "—"
    p = m.prediction
    return f"{score_text(p.mean)} ({score_text(p.low)}–{score_text(p.high)})"


def _measured_text(m) -> str:
    if m.steps is None:
        return f"{score_text(m.measured)} · {m.what_was_measured}"
    return f"{score_text(m.measured)} · {m.steps:,} steps ({m.epochs:.1f} ep.) on {count_text(m.n_train_examples)}"


def _method_rows(evidence: "ProbeEvidence", kb: KnowledgeBase) -> list[dict]:
    leader = evidence.leader
    user_n = count_text(evidence.user_n_examples)
    rows = []
    for m in sorted((m for m in evidence.methods if m.measured is not None),
                    key=lambda m: -(m.prediction.mean if m.prediction else m.measured)):
        rows.append({
            "Method": _name(m.method, kb) + (" ★" if m.method == leader else ""),
            "Measured in the probe": _measured_text(m),
            f"Full-length run at {user_n} (predicted, 80%)": _prediction_text(m),
            f"Within {evidence.tolerance * 100:g} pt of best": f"{evidence.p_within_tolerance.get(m.method, 0):.0%}",
            f"Measured vs. {_name(leader, kb) if leader else 'leader'} (paired, 95%)": _paired_text(evidence, m.method, leader),
        })
    return rows


def _baseline_line(evidence: "ProbeEvidence", kb: KnowledgeBase) -> Optional[str]:
    """How far each trained method got above the no-training baseline, in one line (paired, 95%)."""
    gaps = [c for c in evidence.comparisons if c.versus == "zero_shot"]
    if not gaps:
        return None
    parts = [f"{_name(c.method, kb)} {_points(c.difference)} ({c.low * 100:+.1f} to {c.high * 100:+.1f})" if c.discordant_share
             else f"{_name(c.method, kb)} +0.0 pts (right on exactly the same {c.n_pairs:,} examples)" for c in gaps]
    return "Above zero-shot, measured and paired (95%): " + "; ".join(parts) + "."


def _verdict(evidence: "ProbeEvidence", kb: KnowledgeBase) -> str:
    if not evidence.leader:
        return "The probe produced no usable measurements, so the rules decide."
    leader = evidence.method(evidence.leader)
    share = f"{evidence.p_within_tolerance.get(evidence.leader, 0):.0%}"
    what = (f"predicted {score_text(leader.prediction.mean)} for a full-length run with "
            f"{count_text(evidence.user_n_examples)} examples" if leader.prediction else
            f"measured {score_text(leader.measured)} {leader.what_was_measured}; no full-length prediction")
    word = "Conclusive" if evidence.conclusive else "Inconclusive"
    if evidence.proxy is not None:
        return (f"On the proxy model ({word.lower()}): {_name(evidence.leader, kb)} leads ({what}). For your model these "
                "gaps count next to the published evidence, at reduced weight.")
    return f"{word}: {_name(evidence.leader, kb)} leads ({what}); within {evidence.tolerance * 100:g} point of the best in {share} of simulations."


def _evaluation_note(evidence: "ProbeEvidence") -> str:
    design = evidence.evaluation
    if design is None:
        return ""
    how = (f"the same {count_text(design.n_eval_examples)} held-out examples" if design.kind == "holdout" else
           f"all {count_text(design.n_eval_examples)} examples by {design.n_folds}-fold cross-validation "
           f"({design.n_repeats} repetition{'s' if design.n_repeats != 1 else ''})")
    return (f"Every method was scored on {how}, so differences are paired; this evaluation resolves differences of "
            f"about ±{design.resolvable_difference * 100:.1f} points (95%).")


def build_probe_view(report: "AdvisorReport", kb: KnowledgeBase, suite: "Optional[SuiteResult]" = None) -> ProbeView:
    evidence = report.probe_evidence
    about = ""
    if suite is not None:
        about = (f"{count_text(suite.data_profile.n_rows)} rows ({count_text(suite.data_profile.n_train)} to train, "
                 f"{count_text(suite.data_profile.n_eval)} held out) · model {suite.model.rsplit('/', 1)[-1]} "
                 f"({model_size_text(suite.probed_model_params_b)} parameters) · {suite.device} · "
                 f"{count_text(suite.steps_done)} training steps in {duration_text(suite.wall_time_s / 3600)}")
    return ProbeView(
        metric_label=METRIC_LABELS.get(evidence.metric_name, evidence.metric_name.replace("_", " ")), about=about,
        proxy_note=evidence.proxy.text if evidence.proxy else None, evaluation_note=_evaluation_note(evidence),
        verdict=_verdict(evidence, kb), rows=_method_rows(evidence, kb), baseline_line=_baseline_line(evidence, kb),
        not_measured=[f"{_name(m.method, kb)}: {humanize(m.not_measured_reason, kb)}" for m in evidence.methods if m.measured is None],
        inconclusive=[humanize(r, kb) for r in dict.fromkeys(evidence.inconclusive_reasons)],
        settle=[humanize(s, kb) for s in evidence.settle],
        baseline_score=evidence.baseline_score, linear_probe_score=evidence.linear_probe_score,
    )


def probe_progress_text(phase: str, steps_done: int, elapsed_s: float, total: float, unit: str) -> str:
    """One line for a running probe: phase, steps, time against the fixed budget."""
    phase = re.sub(r" \([\d.]+ epochs per fraction\)", "", phase)
    if unit == "steps":
        return f"{phase} · {count_text(steps_done)} of {count_text(total)} training steps · {clock_text(elapsed_s)} elapsed"
    over = " · over the budget: finishing the current trial" if elapsed_s > total else ""
    return (f"{phase} · {count_text(steps_done)} training steps · {clock_text(elapsed_s)} of the "
            f"{clock_text(total)} time budget{over}")


def trial_line(trial: dict, kb: KnowledgeBase) -> str:
    """A finished trial for the progress list, e.g. 'LoRA, learning rate 0.002: 74.0%'."""
    what = _name(trial["method"], kb)
    lr = re.search(r"-lr([\d.e-]+)", trial["trial_id"])
    fold = re.search(r"-f(\d+)r(\d+)$", trial["trial_id"])
    sweep = str(trial.get("phase", "")) in ("lr_sweep", "Phase.LR_SWEEP")
    detail = (f", fold {int(fold.group(1)) + 1}" if fold else
              f", learning rate {lr.group(1)}{' (sweep, not chosen)' if sweep else ''}" if lr else "")
    status = {"complete": "", "stopped": " (stopped early)", "out_of_memory": " (out of memory)", "failed": " (failed)"}
    metric = "" if trial.get("metric") is None else f": {score_text(trial['metric'])}"
    return f"{what}{detail}{metric}{status.get(trial['status'], ' (' + trial['status'] + ')')}"
