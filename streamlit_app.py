"""Tuning Advisor questionnaire. Thin: widgets -> answers -> advisor.advise(); probes run through probes.job.

Session state, one meaning per key:
  answers         the submitted answers: the recommendation, the downloads and the probes are about these
  answer_errors   {field: message} from the last "Get advice" that did not validate (those entries are not applied)
  q_<field>       the questionnaire's widgets; always rendered, so entries survive reruns, probe runs and cancels
  whatif_<field>  the what-if sliders: start from `answers` and go back to them on every "Get advice"
  probe_job       the running or last probe run (probes.job.ProbeJob)
  upload_table    (file id, the uploaded file read into a table, or the message saying why it could not be)
"""
from __future__ import annotations

import json

import streamlit as st

from advisor import AdvisorError, advise
from advisor.api import to_markdown
from advisor.knowledge import default_knowledge
from advisor.questionnaire import (answers_to_situation, default_answers, field_problems, field_short, option_label,
                                   problem_lines, questions)
from advisor.view import (build_page, count_text, humanize, lower_first, model_size_text, probe_progress_text,
                         trial_line)

MAX_UPLOAD_MB = 50
SIDEBAR_WIDTH_PX = 340  # wide enough for the longest answer label; phones still start with the sidebar closed
PREVIEW_ROWS = 5
WHAT_IF = {
    "n_labeled_examples": [0, 20, 50, 100, 300, 500, 1000, 2000, 5000, 10000, 50000, 100000, 1000000],
    "model_params_b": [0.02, 0.1, 0.35, 1.0, 3.0, 7.0, 13.0, 34.0, 70.0, 175.0],
    "gpu_memory_gb": [0.0, 8.0, 16.0, 24.0, 40.0, 48.0, 80.0, 141.0],
    "n_tasks": [1, 2, 5, 10, 20, 50, 100],
}
WHAT_IF_FORMAT = {
    "n_labeled_examples": count_text,
    "model_params_b": model_size_text,
    "gpu_memory_gb": lambda gb: "no GPU" if gb == 0 else f"{gb:g} GB",
    "n_tasks": count_text,
}
DATA_KINDS = {"classification": "Text + label (classification)", "generation": "Prompt + completion (generation)"}
COLUMN_ROLES = {"classification": ("Text column", "Label column"), "generation": ("Prompt column", "Completion column")}
CONFIDENCE_HELP = ("The pick's share of a softmax over the feasible methods' scores, counted together with the methods that "
                   "share its evidence (e.g. LoRA with rsLoRA, DoRA and QLoRA). A rules score, not a probability checked "
                   "against outcomes.")
# On a phone the sidebar is an overlay: after "Get advice" it is closed so the answer is visible (display only; if
# Streamlit renames its collapse button, the sidebar simply stays open).
CLOSE_SIDEBAR_ON_PHONE = """<script>/* submit {n} */
if (window.innerWidth <= 768) {{
  const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (button) {{ button.click(); }}
}}
</script>"""

st.set_page_config(page_title="Tuning Advisor", page_icon=":material/tune:", layout="wide",
                   initial_sidebar_state=SIDEBAR_WIDTH_PX)


@st.cache_resource
def knowledge():
    return default_knowledge()


# -- state ---------------------------------------------------------------------------------------------------------
def widget_value(question, value):
    """An answer as its widget holds it (numbers stay numbers, blanks become 0 / '')."""
    if question.kind == "int":
        return int(value or 0)
    if question.kind == "float":
        return float(value or 0.0)
    if question.kind == "bool":
        return bool(value)
    if question.kind == "choice":
        return value if value in question.options else question.options[0]
    return value or ""


def init_state() -> None:
    state = st.session_state
    if "answers" not in state:
        state.answers = default_answers()
    state.setdefault("answer_errors", {})
    state.setdefault("probe_job", None)
    state.setdefault("submits", 0)
    for q in questions():
        state.setdefault(f"q_{q.field}", widget_value(q, state.answers.get(q.field)))
    for field in WHAT_IF:
        state.setdefault(f"whatif_{field}", state.answers[field])


def reset_what_if() -> None:
    for field in WHAT_IF:
        st.session_state[f"whatif_{field}"] = st.session_state.answers[field]


def submit_answers() -> None:
    """'Get advice': valid entries become the answers (and the what-if starts again from them); invalid ones are
    reported next to their fields and nothing is applied."""
    entries = {q.field: st.session_state[f"q_{q.field}"] for q in questions()}
    st.session_state.answer_errors = field_problems(entries)
    st.session_state.submits += 1
    if not st.session_state.answer_errors:
        st.session_state.answers = entries
        reset_what_if()


# -- questionnaire -------------------------------------------------------------------------------------------------
def widget(question) -> None:
    key, help_text = f"q_{question.field}", question.help
    if question.kind == "choice":
        st.selectbox(question.label, question.options, format_func=lambda v, f=question.field: option_label(f, v),
                     help=help_text, key=key)
    elif question.kind == "bool":
        st.checkbox(question.label, help=help_text, key=key)
    elif question.kind == "int":  # no min_value: an out-of-range entry is shown with its message, not silently clamped
        st.number_input(question.label, step=1, help=help_text, key=key)
    elif question.kind == "float":
        st.number_input(question.label, step=0.1 if question.field == "model_params_b" else 1.0, help=help_text, key=key,
                        format="%g")
    else:
        st.text_input(question.label, help=help_text, key=key)
    problem = st.session_state.answer_errors.get(question.field)
    if problem:
        st.error(problem, icon=":material/error:")


def questionnaire() -> None:
    with st.sidebar:
        st.header("Your situation")
        with st.form("questionnaire"):
            qs = questions()
            for q in qs:
                if q.essential:
                    widget(q)
            with st.expander("Requirements and constraints",
                             expanded=any(not q.essential and q.field in st.session_state.answer_errors for q in qs)):
                for q in qs:
                    if not q.essential:
                        widget(q)
            st.form_submit_button("Get advice", type="primary", width="stretch", on_click=submit_answers)
        if st.session_state.submits != st.session_state.get("sidebar_closed_for", 0):  # the run right after a submit
            st.session_state.sidebar_closed_for = st.session_state.submits
            st.html(CLOSE_SIDEBAR_ON_PHONE.format(n=st.session_state.submits), unsafe_allow_javascript=True)


# -- the answer ----------------------------------------------------------------------------------------------------
def answer_section(report, page) -> None:
    errors = st.session_state.answer_errors
    if errors:
        st.warning("**Not applied:** " + " ".join(problem_lines(errors)) + " Fix the marked answers under *Your situation*; "
                   "the advice below is still for your last valid answers.", icon=":material/error:")
    head, confidence, basis = st.columns([3, 1, 1])
    head.markdown(f"### Recommended: **{page.method_name}**")
    head.markdown(page.summary)
    head.markdown(f"**Deciding reason:** {page.deciding_reason}")
    head.caption(f"For your situation: {page.situation_summary}")
    confidence.metric("Confidence", page.confidence, help=CONFIDENCE_HELP)
    basis.metric("Evidence", page.evidence)
    download_json, download_md = st.columns(2)
    download_json.download_button("Download report (JSON)", report.model_dump_json(indent=2), file_name="tuning-advisor-report.json",
                                  mime="application/json", key="download_json", width="stretch", icon=":material/download:")
    download_md.download_button("Download report (Markdown)", to_markdown(report), file_name="tuning-advisor-report.md",
                                mime="text/markdown", key="download_md", width="stretch", icon=":material/download:")

    st.markdown("#### Ranked alternatives")
    st.table([{"Rank": row["#"], "Method": row["Method"], "Share": f"{row['Share']:.0%}", "Fits?": row["Fits?"]}
              for row in page.ranked_rows])
    if page.ruled_out:
        with st.expander(f"Why {len(page.ruled_out)} method{'s do' if len(page.ruled_out) > 1 else ' does'} not fit"):
            for name, why in page.ruled_out:
                st.markdown(f"**{name}:** {why}")


def explanation_section(page) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.markdown("#### Why")
        icons = {"For": ":material/check_circle:", "Against": ":material/warning:"}
        for reason in page.reasons:
            links = ", ".join(f"[{label}]({url})" if url else label for label, url in reason.sources)
            st.markdown(f"{icons.get(reason.stance, ':material/block:')} **{reason.stance}** · {reason.grade} · {links}"
                        f"  \n{reason.text}")
        if page.conflicts:
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
    with st.expander("Starting configuration"):
        st.code(json.dumps(page.config, indent=2), language="json")
    with st.expander("Cost comparison (estimates from the cost model)"):
        st.dataframe(page.cost_rows, hide_index=True, width="stretch")


def what_if_section(answers, probe_results, page) -> None:
    st.subheader("What if…")
    st.caption("Try other numbers without changing your answers. The sliders start from your submitted answers and go "
               "back to them whenever you press Get advice; the recommendation above and its downloads stay yours.")
    changed = {}
    for column, (field, grid) in zip(st.columns(len(WHAT_IF)), WHAT_IF.items()):
        key = f"whatif_{field}"
        options = sorted(set(grid) | {answers[field], st.session_state[key]})
        with column:
            value = st.select_slider(field_short(field), options=options, key=key, format_func=WHAT_IF_FORMAT[field])
        if value != answers[field]:
            changed[field] = value
    if not changed:
        st.caption("Move a slider to see how the answer would change.")
        return
    changes = ", ".join(f"{lower_first(field_short(f))} {WHAT_IF_FORMAT[f](answers[f])} → {WHAT_IF_FORMAT[f](v)}"
                        for f, v in changed.items())
    with st.container(border=True):
        try:
            situation = answers_to_situation({**answers, **changed})
        except AdvisorError as error:
            st.error(str(error))
            return
        report = advise(situation, probe_results=probe_results, knowledge=knowledge())
        what_if = build_page(report, knowledge(), probe_results)
        verdict = "the same as yours" if what_if.method == page.method else f"yours: {page.method_name}"
        st.markdown(f"**What if** {changes}: **{what_if.method_name}** ({verdict}), confidence {what_if.confidence}.")
        st.markdown(f"*Deciding reason:* {what_if.deciding_reason}")
        back, download = st.columns(2)
        back.button("Back to my answers", key="whatif_reset", on_click=reset_what_if, icon=":material/undo:", width="stretch")
        download.download_button("Download this what-if report (JSON)", report.model_dump_json(indent=2),
                                 file_name="tuning-advisor-what-if-report.json", mime="application/json",
                                 key="download_whatif_json", icon=":material/download:", width="stretch")


# -- probes --------------------------------------------------------------------------------------------------------
def uploaded_table(upload):
    """The upload read into a table once per file: (table, None) or (None, a message naming the file)."""
    from advisor.errors import ProbeError
    from probes.job import read_upload

    cached = st.session_state.get("upload_table")
    if cached is None or cached[0] != upload.file_id:
        try:
            cached = (upload.file_id, read_upload(upload.getvalue(), upload.name, MAX_UPLOAD_MB), None)
        except ProbeError as error:
            cached = (upload.file_id, None, humanize(str(error), knowledge()))
        st.session_state.upload_table = cached
    return cached[1], cached[2]


def filled_guesses(frame, kind: str, first, second):
    """The loader's guesses by column name, completed from the contents when a name says nothing: the text (or prompt)
    is the column with the longest values, a label the other column with the fewest distinct values, a completion
    the other column with the longest values."""
    def longest(columns):
        return max(columns, key=lambda c: frame[c].astype(str).str.len().mean(), default=None)

    columns = [str(c) for c in frame.columns]
    first = first or longest([c for c in columns if c != second])
    if second is None:
        rest = [c for c in columns if c != first]
        second = (min(rest, key=lambda c: frame[c].nunique(), default=None) if kind == "classification" else longest(rest))
    return first, second


def column_pickers(table, token: str, disabled: bool):
    """The file's first rows and the two columns to use, pre-filled with the guessed ones: (kind, first, second)."""
    from probes.job import guess_columns

    st.dataframe(table.frame.head(PREVIEW_ROWS), hide_index=True, width="stretch")
    st.caption(f"{table.filename}: {count_text(len(table.frame))} rows, {len(table.columns)} columns; "
               f"the first {min(PREVIEW_ROWS, len(table.frame))} shown.")
    for warning in table.warnings:
        st.warning(warning)
    kinds = list(DATA_KINDS)
    kind = st.radio("The file holds", kinds, index=kinds.index(table.kind), format_func=DATA_KINDS.get, horizontal=True,
                    key=f"kind_{token}", disabled=disabled)
    first_guess, second_guess = filled_guesses(table.frame, kind, *guess_columns(table.columns, kind)[1:])
    first_label, second_label = COLUMN_ROLES[kind]
    left, right = st.columns(2)
    first = left.selectbox(first_label, table.columns, index=table.columns.index(first_guess) if first_guess else None,
                           placeholder="Choose a column", key=f"first_{kind}_{token}", disabled=disabled)
    second = right.selectbox(second_label, table.columns, index=table.columns.index(second_guess) if second_guess else None,
                             placeholder="Choose a column", key=f"second_{kind}_{token}", disabled=disabled)
    return kind, first, second


def probe_settings(running: bool) -> None:
    """Data, columns, model and budget; always drawn (disabled while a probe runs) so the choices are kept."""
    data_col, model_col = st.columns(2)
    chosen = table = None
    with data_col:
        upload = st.file_uploader("Labelled data (CSV, TSV, JSONL or JSON)", type=["csv", "tsv", "jsonl", "json"],
                                  key="upload", disabled=running)
        if upload is None:
            st.caption("No file: the built-in sample is used (labelled tweets; text, sentiment negative / neutral / positive).")
        else:
            table, problem = uploaded_table(upload)
            if problem:
                st.error(problem, icon=":material/error:")
            else:
                chosen = column_pickers(table, upload.file_id, running)
    with model_col:
        model = st.text_input("Model (hub id or local directory; empty = built-in all-MiniLM-L6-v2)", key="model_choice",
                              disabled=running)
        budget = st.slider("Time budget (minutes)", 1, 30, 5, key="budget", disabled=running)
        max_examples = st.number_input("Use at most this many rows", min_value=100, value=2000, step=100, key="max_examples",
                                       disabled=running)
    unreadable = upload is not None and table is None
    if st.button("Run probes", type="primary", key="run_probes", disabled=running or unreadable):
        start_probe(table, chosen, model, budget, int(max_examples))


def start_probe(table, chosen, model: str, budget: int, max_examples: int) -> None:
    from advisor.errors import ProbeError
    from probes.data import load_dataset_upload
    from probes.job import ProbeJob, dataset_from_upload

    try:
        dataset = (dataset_from_upload(table, *chosen, max_examples) if table is not None else
                   load_dataset_upload(None, None, None, None, max_examples, MAX_UPLOAD_MB))
    except ProbeError as error:
        st.error(humanize(str(error), knowledge()), icon=":material/error:")
        return
    st.session_state.probe_shown = False
    st.session_state.probe_data_notes = [humanize(w, knowledge()) for w in dataset.warnings]
    st.session_state.probe_job = ProbeJob(dataset, model=model or None, budget_minutes=float(budget)).start()
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
        st.error(humanize(job.error, knowledge()))
    elif job.result is not None and not st.session_state.get("probe_shown"):
        st.session_state.probe_shown = True  # the situation stays the user's; the evidence is added to it
        st.rerun(scope="app")


def probe_results_panel(report, page) -> None:
    import altair as alt
    import pandas as pd

    from advisor.plots import learning_curve_rows, reference_rows

    evidence, view = report.probe_evidence, page.probe
    if view.proxy_note:
        st.info(view.proxy_note)
    st.markdown(f"**{view.verdict}**")
    if view.about:
        st.caption(view.about)
    st.caption(view.evaluation_note)
    st.dataframe(view.rows, hide_index=True, width="stretch")
    if view.baseline_line:
        st.caption(view.baseline_line)
    st.caption("★ leads. Measured: what the short probe reached. Full-length run: the accuracy a run to its best checkpoint would "
               "reach with all your labelled examples, predicted from the probe (80% interval); checked against the "
               "project's own long runs (benchmarks/advice_quality.py).")
    for line in view.not_measured:
        st.warning(f"Not measured — {line}")
    if view.inconclusive:
        st.warning("Why this is not settled:\n\n" + "\n".join(f"- {r}" for r in view.inconclusive)
                   + ("\n\nWhat would settle it:\n\n" + "\n".join(f"- {s}" for s in view.settle) if view.settle else ""))
    frame = pd.DataFrame(learning_curve_rows(evidence, {m.method: m.method.replace("_", " ") for m in evidence.methods}))
    if frame.empty:
        return
    st.markdown(f"#### Training curves on your data ({view.metric_label})")
    x = alt.X("step:Q", scale=alt.Scale(type="log"), title="optimiser steps")
    y = alt.Y("score:Q", title=view.metric_label, scale=alt.Scale(zero=False))
    base = alt.Chart(frame).encode(x=x, y=y, color=alt.Color("method:N", title="method"))
    measured = base.transform_filter(alt.datum.kind == "measured")
    predicted = base.transform_filter(alt.datum.kind == "predicted full-length")
    chart = measured.mark_line(point=True) + predicted.mark_point(shape="triangle-up", size=140, filled=True) + \
        predicted.mark_errorbar().encode(y="low:Q", y2="high:Q")
    references = pd.DataFrame(reference_rows(evidence))
    if not references.empty:
        rule = alt.Chart(references).encode(y="score:Q")
        chart += rule.mark_rule(strokeDash=[2, 2], color="gray") + rule.mark_text(align="left", dy=-6, color="gray").encode(text="label:N")
    st.caption("Lines: measured during the probe (intermediate points on a fixed subset of the held-out examples, the last "
               "on all of them). Triangles with bars: predicted full-length result (80% interval), not measured. Grey: "
               "the no-training baseline and the linear probe.")
    st.altair_chart(chart, width="stretch")


# -- the page ------------------------------------------------------------------------------------------------------
init_state()
questionnaire()
st.title("Tuning Advisor")
st.caption("Which way to adapt your language model: prompting, soft prompts, prefix tuning, LoRA, QLoRA, full fine-tuning "
           "or a hybrid. Cited rules first; short real probes on your own data when you want measurements.")

answers = dict(st.session_state.answers)
situation = answers_to_situation(answers)  # the submitted answers always validated
job = st.session_state.probe_job
probe_results = job.result if job is not None and job.result is not None else None
report = advise(situation, probe_results=probe_results, knowledge=knowledge())
page = build_page(report, knowledge(), probe_results)

answer_section(report, page)
explanation_section(page)
st.divider()
what_if_section(answers, probe_results, page)

st.divider()
st.subheader("Measure on your data")
st.caption("Short real trainings on your data, every method scored on the same held-out examples: zero-shot (and "
           "few-shot prompting for decoders), a linear probe on frozen features, soft prompt tuning, LoRA and, for small "
           "models, full fine-tuning, each after a short learning-rate sweep. Runs on this machine; nothing leaves it. "
           "The measurements are added to your situation as evidence; they never change your answers.")
probe_settings(running=job is not None and job.running)
if job is not None:
    for note in st.session_state.get("probe_data_notes", []):
        st.caption(f"Data: {note}")
probe_progress()
if report.probe_evidence is not None:
    probe_results_panel(report, page)
