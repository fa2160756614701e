"""The real Streamlit app through AppTest: questionnaire -> recommendation, what-if, downloads, probe job."""
import os
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def headline(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Recommended"))


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def test_questionnaire_to_recommendation():
    at = run_app()
    assert "LoRA" in headline(at)  # default: classification, 1,000 examples, 7B, 24 GB
    at.selectbox(key="q_model_access").select("api_only")
    at.number_input(key="q_n_labeled_examples").set_value(300)
    at.button(key="FormSubmitter:questionnaire-Get advice").click().run()
    assert not at.exception
    assert "Few-shot prompting" in headline(at)
    assert [m.value for m in at.metric if m.label == "Evidence"] == ["rules only"]
    reasons = [m.value for m in at.markdown if "supports" in m.value or "opposes" in m.value]
    assert reasons and all("](" in r or "(" in r for r in reasons)  # reasons carry source links


def test_help_text_comes_from_situation_field_descriptions():
    from advisor import Situation

    at = run_app()
    widget = at.number_input(key="q_n_labeled_examples")
    assert widget.help == Situation.model_fields["n_labeled_examples"].description


def test_what_if_control_updates_recommendation_and_counterfactuals():
    at = run_app()
    before = headline(at)
    at.select_slider(key="whatif_n_labeled_examples").set_value(20).run()
    assert not at.exception
    assert "Few-shot prompting" in headline(at) and headline(at) != before
    at.select_slider(key="whatif_gpu_memory_gb").set_value(0.0).run()
    assert "Few-shot prompting" in headline(at)


def test_download_buttons_offer_json_and_markdown():
    at = run_app()
    labels = {b.key: b.proto.label for b in at.get("download_button")}
    assert labels == {"download_json": "Download JSON report", "download_md": "Download Markdown report"}
    assert at.get("download_button")[0].proto.url.endswith(".json")


def test_invalid_answer_is_shown_in_the_page_not_a_traceback():
    at = run_app()
    at.number_input(key="q_model_params_b").set_value(0.0)
    at.button(key="FormSubmitter:questionnaire-Get advice").click().run()
    assert not at.exception
    assert any("model_params_b" in e.value for e in at.error)


def test_bad_upload_gives_a_clear_message(tmp_path):
    import pytest

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
    job = ProbeJob(pd.DataFrame(sentiment_rows(200)), model=str(model), budget_minutes=0.3, cache_dir=None).start()
    total = job.total
    job.wait(120)
    assert job.state == "finished" and job.error is None and job.result is not None and job.steps_done > 0
    assert job.total == total and job.fraction_done == 1.0  # the total is fixed from the start
    assert any(t.phase == "curve" for t in job.result.trials)

    slow = ProbeJob(pd.DataFrame(sentiment_rows(200)), model=str(model), budget_minutes=5, cache_dir=None).start()
    while slow.poll().steps_done < 3 and slow.running:
        time.sleep(0.05)
    slow.cancel()
    assert slow.state == "cancelled" and slow.result is None and slow._process.poll() is not None


def test_a_failed_probe_is_reported_not_raised():
    from probes.job import ProbeJob

    from tiny_models import sentiment_rows

    job = ProbeJob(pd.DataFrame(sentiment_rows(100)), model="no-such-model-dir", budget_minutes=0.2, cache_dir=None).start().wait(120)
    assert job.state == "failed" and "could not be loaded" in job.error


def test_view_drops_counterfactuals_that_repeat_the_answer_and_names_the_deciding_reason():
    from advisor import Situation, advise
    from advisor.knowledge import default_knowledge
    from advisor.view import build_page, counterfactual_lines

    kb = default_knowledge()
    report = advise(Situation(task_type="classification", n_labeled_examples=1000, model_params_b=70, gpu_memory_gb=0))
    page = build_page(report, kb)
    assert page.method == "few_shot" and page.deciding_reason.startswith("Nothing trainable fits")
    cfs = report.recommendation.counterfactuals
    assert all(report.recommendation.method_name not in line.split("becomes")[-1]
               for line in counterfactual_lines(cfs, "few_shot", kb))
    shown = cfs[0].new_method
    assert all(kb.methods[shown].name + "." not in line for line in counterfactual_lines(cfs, shown, kb))
    assert not any("open_weights" in line or "full_finetune" in line for line in page.counterfactuals + page.caveats)


def test_number_formats():
    from advisor.view import memory_text, mib_text, params_text

    assert params_text(39_976_960) == "40.0M" and mib_text(13351.44) == "13.0 GiB" and memory_text(0.5) == "512 MiB"
