"""Tuning Advisor questionnaire. Thin: widgets -> answers -> advisor.advise(); probes run through probes.job."""
from __future__ import annotations


import streamlit as st

from advisor import AdvisorError, advise
from advisor.api import to_markdown
from advisor.knowledge import default_knowledge
from advisor.questionnaire import answers_to_situation, default_answers, questions

st.set_page_config(page_title="Tuning Advisor", page_icon=":material/tune:", layout="wide")

MAX_UPLOAD_MB = 50
WHAT_IF = {
    "n_labeled_examples": [0, 20, 50, 100, 300, 500, 1000, 2000, 5000, 10000, 50000, 100000, 1000000],
    "model_params_b": [0.02, 0.1, 0.35, 1.0, 3.0, 7.0, 13.0, 34.0, 70.0, 175.0],
    "gpu_memory_gb": [0.0, 8.0, 16.0, 24.0, 40.0, 48.0, 80.0, 141.0],
    "n_tasks": [1, 2, 5, 10, 20, 50, 100],
}

if "answers" not in st.session_state:
    st.session_state.answers = default_answers()
if "probe_job" not in st.session_state:
    st.session_state.probe_job = None


@st.cache_resource
def knowledge():
    return default_knowledge()


def widget(question, value, key):
    if question.kind == "choice":
        return st.selectbox(question.label, question.options, index=question.options.index(value) if value in question.options else 0,
                            help=question.help, key=key)
    if question.kind == "bool":
        return st.checkbox(question.label, value=bool(value), help=question.help, key=key)
    if question.kind == "int":
        return st.number_input(question.label, min_value=0 if question.field != "n_tasks" else 1, value=int(value or 0), step=1,
                               help=question.help, key=key)
    if question.kind == "float":
        return st.number_input(question.label, min_value=0.0, value=float(value or 0.0), help=question.help, key=key,
                               format="%.3g" if question.field == "model_params_b" else "%.1f")
    return st.text_input(question.label, value=value or "", help=question.help, key=key)


st.title("Tuning Advisor")
st.caption("Which way to adapt your language model: prompting, soft prompts, prefix tuning, LoRA, QLoRA, full fine-tuning "
           "or a hybrid. Cited rules first; short real probes on your own data when you want measurements.")

with st.sidebar:
    st.header("Your situation")
    with st.form("questionnaire"):
        qs = questions()
        new_answers = {}
        for q in [q for q in qs if q.essential]:
            new_answers[q.field] = widget(q, st.session_state.answers.get(q.field), f"q_{q.field}")
        with st.expander("Requirements and constraints"):
            for q in [q for q in qs if not q.essential]:
                new_answers[q.field] = widget(q, st.session_state.answers.get(q.field), f"q_{q.field}")
        if st.form_submit_button("Get advice", type="primary", width="stretch"):
            st.session_state.answers = new_answers
            for field in WHAT_IF:  # the what-if sliders start again from the new answers
                st.session_state[f"whatif_{field}"] = new_answers[field]

answers = dict(st.session_state.answers)

st.subheader("What if…")
columns = st.columns(len(WHAT_IF))
labels = {"n_labeled_examples": "Labelled examples", "model_params_b": "Model size (B params)",
          "gpu_memory_gb": "GPU memory (GB)", "n_tasks": "Tasks on one base"}
for column, (field, grid) in zip(columns, WHAT_IF.items()):
    key = f"whatif_{field}"
    current = st.session_state.get(key, answers.get(field))
    options = sorted(set(grid) | {answers.get(field), current} - {None})
    if key not in st.session_state:
        st.session_state[key] = current if current is not None else options[0]
    with column:
        answers[field] = st.select_slider(labels[field], options=options, key=key)

try:
    situation = answers_to_situation(answers)
except AdvisorError as error:
    st.error(str(error))
    st.stop()

job = st.session_state.probe_job
probe_results = job.result if job is not None and job.result is not None else None
report = advise(situation, probe_results=probe_results, knowledge=knowledge())
rec = report.recommendation
from advisor.view import build_page, probe_progress_text, trial_line  # noqa: E402

page = build_page(report, knowledge(), probe_results)

st.divider()
head, confidence, basis = st.columns([3, 1, 1])
head.markdown(f"### Recommended: **{page.method_name}**  \n{page.summary}")
head.markdown(f"**Deciding reason:** {page.deciding_reason}")
head.caption(f"Your situation: {page.situation_summary}")
confidence.metric("Confidence", f"{rec.confidence:.0%}")
basis.metric("Evidence", page.evidence)

st.markdown("#### Ranked alternatives")
st.table(page.ranked_rows)

left, right = st.columns([3, 2])
with left:
    st.markdown("#### Why")
    sources = {s.id: s for s in report.sources}
    for reason in rec.reasons:
        links = ", ".join(f"[{sid}]({sources[sid].url})" if sources.get(sid) and sources[sid].url else sid for sid in reason.source_ids)
        icon = {"supports": ":material/check_circle:", "opposes": ":material/warning:"}.get(reason.stance, ":material/block:")
        st.markdown(f"{icon} **{reason.stance}** ({reason.score_effect:+.2f}, {reason.grade}; {links}) — {reason.text}")
    if report.conflicts:
        st.markdown("#### Where sources disagree")
        for conflict in page.conflicts:
            st.info(conflict)
with right:
    st.markdown("#### What would change the answer")
    for line in page.counterfactuals:
        st.markdown(f"- {line}")
    if not page.counterfactuals:
        st.markdown("Nothing on the tried grid changes the answer.")
    st.markdown("#### Caveats")
    for caveat in page.caveats:
        st.markdown(f"- {caveat}")
    st.markdown("#### Starting configuration")
    st.json(rec.config, expanded=False)

with st.expander("Cost comparison (estimates from the cost model)"):
    st.dataframe(page.cost_rows, hide_index=True, width="stretch")

st.divider()
st.subheader("Measure on your data")
st.caption("Short real trainings: a no-training baseline, soft prompt tuning and LoRA (plus full fine-tuning for small models), "
           "each with a learning-rate sweep, at 25/50/100% of your data. Runs on this machine; nothing leaves it.")

job = st.session_state.probe_job
if job is None or not job.running:
    upload_col, model_col = st.columns(2)
    with upload_col:
        upload = st.file_uploader("Labelled data (CSV or JSONL)", type=["csv", "jsonl", "json", "tsv"], key="upload")
        if upload is None:
            st.caption("No file: the built-in sample (labelled tweets, negative / neutral / positive) is used.")
        max_examples = st.number_input("Use at most this many rows", min_value=100, value=2000, step=100, key="max_examples")
    with model_col:
        model_choice = st.text_input("Model (hub id or local directory; empty = built-in all-MiniLM-L6-v2)", value="", key="model_choice")
        budget = st.slider("Time budget (minutes)", 1, 30, 5, key="budget")
        text_column = st.text_input("Text / prompt column (empty = guess)", value="", key="text_column")
        label_column = st.text_input("Label / completion column (empty = guess)", value="", key="label_column")
    if st.button("Run probes", type="primary", key="run_probes"):
        from advisor.errors import ProbeError
        from probes.data import load_dataset_upload

        try:
            dataset = load_dataset_upload(
                None if upload is None else upload.getvalue(),
                None if upload is None else upload.name,
                text_column or None, label_column or None, int(max_examples), MAX_UPLOAD_MB)
        except ProbeError as error:
            st.error(str(error))
        else:
            from probes.job import ProbeJob

            st.session_state.probe_shown = False
            for warning in dataset.warnings:
                st.warning(warning)
            st.session_state.probe_job = ProbeJob(dataset, model=model_choice or None, budget_minutes=float(budget)).start()
            st.rerun()


@st.fragment(run_every=0.5)
def probe_progress():
    job = st.session_state.probe_job
    if job is None:
        return
    job.poll()
    if job.running:
        st.progress(job.fraction_done, text=probe_progress_text(job.phase, job.steps_done, job.elapsed_s, job.total, job.total_unit))
        if st.button("Cancel", key="cancel_probe"):
            job.cancel()
            st.rerun(scope="app")
        for trial in job.trials_done[-6:]:
            st.caption(trial_line(trial, knowledge()))
    elif job.state == "cancelled":
        st.warning(f"Probe cancelled after {job.elapsed_s:.0f} s; nothing from it was used.")
    elif job.error:
        st.error(job.error)
    elif job.result is not None and not st.session_state.get("probe_shown"):
        st.session_state.probe_shown = True  # the situation stays the user's; the evidence is added to it
        st.rerun(scope="app")


probe_progress()

if report.probe_evidence is not None:
    import altair as alt
    import pandas as pd

    from advisor.plots import learning_curve_rows

    evidence = report.probe_evidence
    if page.probe.proxy_note:
        st.info(page.probe.proxy_note)
    st.markdown(f"**{page.probe.verdict}**")
    st.markdown("#### Learning curves on your data")
    frame = pd.DataFrame(learning_curve_rows(evidence))
    if not frame.empty:
        base = alt.Chart(frame).encode(x=alt.X("n_examples:Q", scale=alt.Scale(type="log"), title="labelled training examples"),
                                       y=alt.Y("score:Q", title=evidence.metric_name, scale=alt.Scale(zero=False)), color="method:N")
        chart = base.transform_filter(alt.datum.kind == "fit").mark_line() + \
            base.transform_filter(alt.datum.kind == "extrapolated").mark_line(strokeDash=[6, 4], opacity=0.6) + \
            base.transform_filter(alt.datum.kind == "measured").mark_point(filled=True, size=70)
        from advisor.plots import reference_rows

        references = pd.DataFrame(reference_rows(evidence))
        if not references.empty:
            rule = alt.Chart(references).encode(y="score:Q")
            chart += rule.mark_rule(strokeDash=[2, 2], color="gray") + rule.mark_text(align="left", dy=-6, color="gray").encode(text="label:N")
        st.caption("Dots: measured. Solid: fitted within the measured range. Dashed: extrapolated beyond it.")
        st.altair_chart(chart, width="stretch")
    st.table(page.probe.rows)
    for line in page.probe.references:
        st.caption(line)
    if page.probe.inconclusive:
        st.warning("Why this is not settled:\n\n" + "\n".join(f"- {r}" for r in page.probe.inconclusive))

st.divider()
download_json, download_md = st.columns(2)
download_json.download_button("Download JSON report", report.model_dump_json(indent=2), file_name="tuning-advisor-report.json",
                              mime="application/json", key="download_json", width="stretch")
download_md.download_button("Download Markdown report", to_markdown(report), file_name="tuning-advisor-report.md",
                            mime="text/markdown", key="download_md", width="stretch")
