"""The real Streamlit app through AppTest: questionnaire -> recommendation, what-if, invalid input, uploads, probe job."""
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
SUBMIT = "FormSubmitter:questionnaire-Get advice"


def headline(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Recommended"))


def run_app(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def submit(at) -> AppTest:
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def downloads(monkeypatch):
    """What each download button offers in the latest run: {file name: text}."""
    offered: dict[str, str] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            offered[filename] = path_or_data.decode() if isinstance(path_or_data, bytes) else path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return offered


def page_text(at) -> str:
    """Everything a person reads on the page (prose, tables, captions, alerts, widget labels and options), not code."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in ("error", "warning", "info", "success") for e in getattr(at, kind)]
    parts += [t.value.to_csv() for t in at.table] + [d.value.to_csv() for d in at.dataframe]
    for kind in ("selectbox", "radio", "select_slider", "number_input", "checkbox", "text_input"):
        for w in getattr(at, kind):
            parts.append(w.label)
            parts += [str(o) for o in getattr(w, "options", [])]
    return "\n".join(parts)


def internal_names():
    from advisor.knowledge import default_knowledge
    from advisor.situation import Situation

    kb = default_knowledge()
    names = {m for m in kb.methods if "_" in m or m in ("lora", "rslora", "dora", "qlora", "ia3")}
    names |= {r.id for r in kb.rules}
    for info in Situation.model_fields.values():
        names |= {e.value for e in getattr(info.annotation, "__members__", {}).values() if "_" in e.value}
    return names


def assert_no_internal_names(text: str) -> None:
    found = [name for name in internal_names() if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]
    assert not found, f"internal names on screen: {found}"
    assert not re.search(r"(?<![\w-])--[a-z]", text), "a CLI flag on screen"


# -- questionnaire -------------------------------------------------------------------------------------------------
def test_questionnaire_to_recommendation_with_cited_reasons():
    from advisor import advise
    from advisor.knowledge import default_knowledge
    from advisor.questionnaire import answers_to_situation
    from advisor.view import build_page

    at = run_app()
    assert "LoRA" in headline(at)  # default: classification, 1,000 examples, 7B, 24 GB
    at.selectbox(key="q_model_access").select("api_only")
    at.number_input(key="q_n_labeled_examples").set_value(300)
    submit(at)
    assert "Few-shot prompting" in headline(at)
    assert [m.value for m in at.metric if m.label == "Evidence"] == ["rules only"]

    page = build_page(advise(answers_to_situation(at.session_state["answers"])), default_knowledge())
    shown = [m.value for m in at.markdown if m.value.startswith(":material/")]
    assert len(shown) == len(page.reasons) > 0
    for line, reason in zip(shown, page.reasons):  # each reason with its stance, grade and linked sources
        assert f"**{reason.stance}** · {reason.grade}" in line
        assert all((f"[{label}]({url})" if url else label) in line for label, url in reason.sources)


def test_help_text_comes_from_situation_field_descriptions():
    from advisor import Situation

    at = run_app()
    widget = at.number_input(key="q_n_labeled_examples")
    assert widget.help == Situation.model_fields["n_labeled_examples"].description


def test_screen_shows_human_labels_never_internal_names():
    at = run_app()
    access = at.selectbox(key="q_model_access")
    assert access.options == ["Open weights", "Vendor API with fine-tuning", "Vendor API, prompting only"]
    assert access.value == "open_weights"  # the stored value stays the enum value
    assert_no_internal_names(page_text(at))
    for access_value in ("api_only", "api_finetune"):
        at.selectbox(key="q_model_access").select(access_value)
        submit(at)
        assert_no_internal_names(page_text(at))
    at.select_slider(key="whatif_gpu_memory_gb").set_value(0.0).run()
    assert_no_internal_names(page_text(at))


def test_every_field_and_answer_has_one_human_label_used_by_ui_report_and_markdown():
    from advisor import Situation, advise
    from advisor.api import to_markdown
    from advisor.questionnaire import FIELD_TEXT, OPTION_LABELS, questions

    assert set(FIELD_TEXT) == set(Situation.model_fields)
    for q in questions():
        assert q.label == FIELD_TEXT[q.field].question
        if q.kind == "choice":
            assert set(OPTION_LABELS[q.field]) == set(q.options), q.field
    report = advise(Situation(task_type="qa", n_labeled_examples=300, model_params_b=7, model_access="api_finetune"))
    markdown = to_markdown(report)
    assert "Situation: Question answering, 300 labelled examples, 7B-parameter model (Vendor API with fine-tuning" in markdown
    assert not any("were api_" in cf.text or "open_weights" in cf.text for cf in report.recommendation.counterfactuals)


# -- what-if -------------------------------------------------------------------------------------------------------
def test_what_if_is_its_own_state_and_never_changes_the_report_or_its_downloads(downloads):
    at = run_app()
    mine = headline(at)
    at.select_slider(key="whatif_n_labeled_examples").set_value(20).run()
    assert not at.exception
    assert headline(at) == mine  # the recommendation is still the submitted situation's
    card = next(m.value for m in at.markdown if m.value.startswith("**What if**"))
    assert "labelled examples 1,000 → 20" in card and "**Few-shot prompting** (yours: LoRA)" in card
    exported = json.loads(downloads["tuning-advisor-report.json"])
    assert exported["situation"]["n_labeled_examples"] == 1000 and exported["recommendation"]["method"] == "lora"
    assert "1,000 labelled examples" in downloads["tuning-advisor-report.md"]
    what_if = json.loads(downloads["tuning-advisor-what-if-report.json"])  # offered separately, labelled as a what-if
    assert what_if["situation"]["n_labeled_examples"] == 20
    assert {b.proto.label for b in at.get("download_button")} == {
        "Download report (JSON)", "Download report (Markdown)", "Download this what-if report (JSON)"}

    at.number_input(key="q_n_labeled_examples").set_value(300)
    submit(at)  # a submit brings the what-if back to the answers
    assert at.select_slider(key="whatif_n_labeled_examples").value == 300
    assert not any(m.value.startswith("**What if**") for m in at.markdown)
    assert json.loads(downloads["tuning-advisor-report.json"])["situation"]["n_labeled_examples"] == 300

    at.select_slider(key="whatif_gpu_memory_gb").set_value(0.0).run()
    at.button(key="whatif_reset").click().run()
    assert at.select_slider(key="whatif_gpu_memory_gb").value == 24.0


# -- invalid input -------------------------------------------------------------------------------------------------
def test_invalid_input_is_shown_next_to_the_field_and_the_page_stays(downloads):
    at = run_app()
    at.number_input(key="q_model_params_b").set_value(0.0)
    at.number_input(key="q_n_labeled_examples").set_value(-5)
    submit(at)
    assert [e.value for e in at.sidebar.error] == ["Must be 0 or more (you entered -5).",
                                                    "Must be more than 0 (you entered 0)."]
    assert at.number_input(key="q_n_labeled_examples").value == -5  # the entry is kept, not silently replaced
    banner = at.warning[0].value
    assert banner.startswith("**Not applied:**") and "Labelled examples: must be 0 or more" in banner
    assert "LoRA" in headline(at) and at.table and at.select_slider  # the rest of the page is still there
    assert json.loads(downloads["tuning-advisor-report.json"])["situation"]["model_params_b"] == 7.0

    at.number_input(key="q_model_params_b").set_value(70.0)
    at.number_input(key="q_n_labeled_examples").set_value(1000)
    submit(at)
    assert not at.sidebar.error and not at.warning
    assert at.session_state["answers"]["model_params_b"] == 70.0


def test_invalid_answers_name_the_field_in_plain_words():
    from advisor.questionnaire import default_answers, field_problems, problem_lines

    answers = {**default_answers(), "n_tasks": 0, "gpu_memory_gb": float("nan"), "seq_len_tokens": 2}
    problems = field_problems(answers)
    assert problems == {"n_tasks": "Must be 1 or more (you entered 0).", "gpu_memory_gb": "Must be a finite number (you entered nan).",
                        "seq_len_tokens": "Must be 8 or more (you entered 2)."}
    assert problem_lines({"n_tasks": problems["n_tasks"]}) == ["Tasks on one base model: must be 1 or more (you entered 0)."]
    assert field_problems(default_answers()) == {}


# -- probes --------------------------------------------------------------------------------------------------------
def finished_job():
    from probes.job import ProbeJob

    from factories import make_suite

    suite = make_suite({"zero_shot": 0.45, "linear_probe": 0.70, "prompt_tuning": 0.60, "lora": 0.78}, probed_params_b=0.0227,
                       architecture="encoder")
    suite = suite.model_copy(update={"trials": [t.model_copy(update={"total_params": 22_700_000}) for t in suite.trials]})
    return ProbeJob(dataset=None, state="finished", result=suite, started_at=1.0, ended_at=61.0)


def test_a_probe_does_not_change_the_situation(downloads):
    at = run_app()
    answers = dict(at.session_state["answers"])
    at.session_state["probe_job"] = finished_job()
    at.session_state["probe_shown"] = True
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "Evidence"] == ["rules + measurements on a proxy model"]
    assert at.session_state["answers"] == answers
    assert any("7B-parameter model" in c.value and "1,000 labelled examples" in c.value for c in at.caption)
    assert any("Measured on a proxy" in i.value for i in at.info)  # a 22.7M probe for a 7B model is proxy evidence
    exported = json.loads(downloads["tuning-advisor-report.json"])
    assert exported["situation"]["model_params_b"] == 7.0 and exported["situation"]["gpu_memory_gb"] == 24.0
    assert exported["probe_evidence"] is not None
    assert at.number_input(key="q_model_params_b").value == 7.0


def test_no_counterfactual_repeats_the_current_answer_after_a_probe():
    at = run_app(probe_job=finished_job(), probe_shown=True)
    answer = headline(at).split("**")[1]
    block = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert block and not any(line.endswith(f"the answer becomes {answer}.") for line in block)


def test_settings_survive_a_probe_run_and_a_cancel():
    from probes.job import ProbeJob

    at = run_app()
    at.number_input(key="q_n_labeled_examples").set_value(300)
    submit(at)
    at.text_input(key="model_choice").input("my-model")
    at.slider(key="budget").set_value(3)
    at.number_input(key="max_examples").set_value(500).run()
    running = ProbeJob(dataset=None, state="running", started_at=1.0)  # no process: poll() leaves it running
    at.session_state["probe_job"] = running
    at.run()
    assert not at.exception
    assert at.text_input(key="model_choice").disabled and at.button(key="run_probes").disabled  # shown, locked
    assert at.button(key="cancel_probe")
    running.state = "cancelled"
    running.ended_at = 10.0
    at.run()
    assert any("Probe cancelled" in w.value for w in at.warning)
    assert at.text_input(key="model_choice").value == "my-model" and not at.text_input(key="model_choice").disabled
    assert at.slider(key="budget").value == 3 and at.number_input(key="max_examples").value == 500
    assert at.number_input(key="q_n_labeled_examples").value == 300 and at.session_state["answers"]["n_labeled_examples"] == 300


REVIEWS = ("id,review,stars\n" + "".join(f"{i},The product was {w} #{i},{s}\n" for i, (w, s) in
                                         enumerate([("great", "positive"), ("awful", "negative"), ("fine", "neutral")] * 40))).encode()


def test_upload_preview_and_column_pickers_prefilled_from_the_file(monkeypatch):
    from probes.job import ProbeJob

    at = run_app()
    at.file_uploader(key="upload").upload("reviews.csv", REVIEWS, "text/csv").run()
    assert not at.exception and not at.error
    preview = at.dataframe[-1].value
    assert list(preview.columns) == ["id", "review", "stars"] and len(preview) == 5
    assert any(c.value.startswith("reviews.csv: 120 rows, 3 columns") for c in at.caption)
    pickers = [s for s in at.selectbox if s.key and s.key.startswith(("first_", "second_"))]
    assert [(s.label, s.value) for s in pickers] == [("Text column", "review"), ("Label column", "stars")]

    started = []
    monkeypatch.setattr(ProbeJob, "start", lambda self: started.append(self) or self)
    at.button(key="run_probes").click().run()
    assert not at.exception and not at.error
    dataset = started[0].dataset
    assert dataset.source == "reviews.csv" and dataset.label_names == ["negative", "neutral", "positive"]
    assert dataset.texts[0].startswith("The product was")


@pytest.mark.parametrize("name, content, expected", [
    ("broken.jsonl", b'{"text": "fine", "label": "a"}\n{"text": "bad", label\n',
     "broken.jsonl could not be read: it is not valid JSON Lines (one JSON object per line)."),
    ("ragged.csv", b"text,label\nfine,a\nbad,b,extra,more\n",
     "ragged.csv could not be read: line 3 has 4 fields but the header has 2; check the delimiter and quoting."),
    ("empty.csv", b"", "empty.csv is empty."),
])
def test_upload_errors_are_friendly(name, content, expected):
    at = run_app()
    at.file_uploader(key="upload").upload(name, content).run()
    assert not at.exception
    assert [e.value for e in at.error] == [expected]
    message = expected
    assert "/tmp" not in message and "Traceback" not in message and "byte" not in message
    assert at.button(key="run_probes").disabled  # nothing to run until the file can be read


def test_bad_upload_gives_a_clear_message(tmp_path):
    from advisor import ProbeError
    from probes.data import load_dataset_upload

    with pytest.raises(ProbeError, match="is empty"):
        load_dataset_upload(b"", "data.csv", None, None, 1000, 50)
    with pytest.raises(ProbeError, match="limit is 0.001 MB"):
        load_dataset_upload(b"text,label\n" + b"x,y\n" * 1000, "data.csv", None, None, 1000, 0.001)
    with pytest.raises(ProbeError, match="Columns: \\['body', 'y'\\]"):
        load_dataset_upload(b"body,y\nhello,1\nbye,2\n", "data.csv", "text", "label", 1000, 50)
    with pytest.raises(ProbeError, match="expected a .csv"):
        load_dataset_upload(b"\x00\x01", "data.xlsx", None, None, 1000, 50)


def test_probe_job_runs_in_a_subprocess_and_cancel_stops_it_within_seconds(tmp_path):
    import time

    from probes.job import ProbeJob

    from tiny_models import sentiment_rows, tiny_bert

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = tiny_bert(tmp_path / "bert")
    job = ProbeJob(pd.DataFrame(sentiment_rows(200)), model=str(model), budget_steps=30, cache_dir=None).start()
    total = job.total
    job.wait(120)
    assert job.state == "finished" and job.error is None and job.result is not None and job.steps_done > 0
    assert job.total == total and job.fraction_done == 1.0  # the total is fixed from the start
    assert any(t.phase == "curve" for t in job.result.trials)

    slow = ProbeJob(pd.DataFrame(sentiment_rows(200)), model=str(model), budget_steps=100_000, cache_dir=None).start()
    while slow.poll().steps_done < 3 and slow.running:
        time.sleep(0.05)
    slow.cancel()
    assert slow.state == "cancelled" and slow.result is None and slow._process.poll() is not None


def test_a_failed_probe_is_reported_not_raised():
    from probes.job import ProbeJob

    from tiny_models import sentiment_rows

    job = ProbeJob(pd.DataFrame(sentiment_rows(100)), model="no-such-model-dir", budget_minutes=0.2, cache_dir=None).start().wait(120)
    assert job.state == "failed" and "could not be loaded" in job.error


def test_a_probe_process_killed_mid_suite_is_reported_and_leaves_the_cache_valid(tmp_path):
    """Fault injection: the child dies (SIGKILL, as the kernel's out-of-memory killer would) while training."""
    import signal
    import time

    from probes.job import ProbeJob

    from tiny_models import sentiment_rows, tiny_bert

    model, cache = tiny_bert(tmp_path / "bert"), tmp_path / "cache"
    job = ProbeJob(pd.DataFrame(sentiment_rows(200)), model=str(model), budget_steps=100_000, cache_dir=str(cache)).start()
    while job.poll().steps_done < 3 and job.running:
        time.sleep(0.05)
    os.kill(job._process.pid, signal.SIGKILL)
    job.wait(60)
    assert job.state == "failed" and job.result is None and "killed" in job.error
    assert not [p for p in cache.glob("*") if p.is_file()]  # nothing half-written, nothing stored as a result
    at = run_app(probe_job=job)  # the page still gives its (rules-only) answer and shows what happened
    assert not at.exception and "killed" in " ".join(e.value for e in at.error)
    assert [m.value for m in at.metric if m.label == "Evidence"] == ["rules only"]


# -- view model ----------------------------------------------------------------------------------------------------
def test_view_drops_counterfactuals_that_repeat_the_answer_and_names_the_deciding_reason():
    from advisor import Situation, advise
    from advisor.knowledge import default_knowledge
    from advisor.view import build_page, counterfactual_lines

    kb = default_knowledge()
    report = advise(Situation(task_type="classification", n_labeled_examples=1000, model_params_b=70, gpu_memory_gb=0))
    page = build_page(report, kb)
    assert page.method == "few_shot" and page.deciding_reason.startswith("Nothing trainable fits: no GPU")
    cfs = report.recommendation.counterfactuals
    assert all(report.recommendation.method_name not in line.split("becomes")[-1]
               for line in counterfactual_lines(cfs, "few_shot", kb))
    shown = cfs[0].new_method
    assert all(kb.methods[shown].name + "." not in line for line in counterfactual_lines(cfs, shown, kb))
    assert not any("open_weights" in line or "full_finetune" in line for line in page.counterfactuals + page.caveats)


def test_deciding_reason_is_a_whole_sentence_and_the_ranking_fits_a_phone():
    from advisor import Situation, advise
    from advisor.knowledge import default_knowledge
    from advisor.view import build_page

    kb = default_knowledge()
    page = build_page(advise(Situation(task_type="classification", n_labeled_examples=1000, model_params_b=7)), kb)
    assert page.deciding_reason.startswith("Hu et al. 2021, Table 16") and page.deciding_reason.endswith("on GPT-3.")
    page = build_page(advise(Situation(task_type="classification", n_labeled_examples=1000, model_params_b=70)), kb)
    fits = {row["Method"]: row["Fits?"] for row in page.ranked_rows}
    assert fits["LoRA"].startswith("no: needs about") and len(fits["LoRA"]) < 60
    assert dict(page.ruled_out)["LoRA"].startswith("Needs about") and "Sharded" in dict(page.ruled_out)["LoRA"]


def test_number_formats():
    from advisor.view import memory_text, mib_text, params_text

    assert params_text(39_976_960) == "40.0M" and mib_text(13351.44) == "13.0 GiB" and memory_text(0.5) == "512 MiB"
