"""One error path for the CLI: bad input exits 2 with one short paragraph naming the flag or field, what was
expected and what was given; outputs are checked before any work; a finished probe suite is never lost.

Runs advisor.cli.main(argv) in-process (capsys) for speed; tests/test_cli.py and the end of this file run the
real subprocess. Probe runs here use a stand-in probes.suite (no torch, no training): they test the CLI around the
suite, not the suite.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor import AdvisorReport
from advisor.cli import main
from factories import make_suite
from probes.result import SuiteResult

RECOMMEND = ["recommend", "--task", "classification", "--examples", "400", "--model-params-b", "7"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clear_error(code, err, *fragments):
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error"), err
    assert "\n\n" not in err.strip() and len(err) < 1500, err  # one paragraph, values cut
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def finished_suite() -> SuiteResult:
    suite = make_suite({"zero_shot": 0.5, "lora": 0.8, "prompt_tuning": 0.65}, probed_params_b=0.022, architecture="encoder")
    trials = [t.model_copy(update={"total_params": 22_000_000}) for t in suite.trials]
    return suite.model_copy(update={"trials": trials})


@pytest.fixture
def fake_suite(monkeypatch):
    """A stand-in probes.suite whose run_suite records its arguments and returns a finished suite (``.before`` runs first)."""
    module = types.ModuleType("probes.suite")
    module.calls = []
    module.before = lambda kwargs: None

    def run_suite(dataset, **kwargs):
        module.calls.append(kwargs)
        module.before(kwargs)
        return finished_suite()

    module.run_suite = run_suite
    monkeypatch.setitem(sys.modules, "probes.suite", module)
    return module


@pytest.fixture
def data_file(tmp_path):
    from tiny_models import sentiment_rows

    path = tmp_path / "tickets.csv"
    rows = sentiment_rows(120) + [{"text": "no label here", "label": "N/A"}, {"text": "shouting", "label": "POS"}]
    path.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    return path


def probe_args(data_file, tmp_path, *extra):
    return ["probe", "--data", data_file, "--model", "some-model", "--cache-dir", tmp_path / "cache", *extra]


# -- outputs checked before any work -----------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--json", "--markdown"])
def test_recommend_output_into_a_missing_directory_or_a_directory_is_refused_first(capsys, tmp_path, flag):
    code, out, err = run(capsys, *RECOMMEND, flag, tmp_path / "missing" / "r.out")
    assert_clear_error(code, err, flag, "the directory", "does not exist")
    assert out == ""  # no advice printed: nothing ran
    code, _, err = run(capsys, *RECOMMEND, flag, tmp_path)
    assert_clear_error(code, err, flag, "is a directory")
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, *RECOMMEND, flag, tmp_path / "file" / "r.out")
    assert_clear_error(code, err, flag, "is not a directory")


@pytest.mark.parametrize("flags, fragment", [
    (["--json", "{missing}/r.json"], "--json"),
    (["--markdown", "{tmp}"], "--markdown"),
    (["--suite-json", "{missing}/s.json"], "--suite-json"),
    (["--suite-json", "{tmp}"], "--suite-json"),
    (["--save-adapter", "{file}/adapters"], "--save-adapter"),
    (["--cache-dir", "{file}/cache"], "--cache-dir"),
    (["--json", "{data}"], "is the same file as --data"),
])
def test_probe_outputs_are_checked_before_data_is_read_or_probes_train(capsys, tmp_path, data_file, fake_suite, monkeypatch,
                                                                       flags, fragment):
    import probes.data

    monkeypatch.setattr(probes.data, "load_dataset", lambda *a, **k: pytest.fail("data was read before the outputs were checked"))
    (tmp_path / "file").write_text("x")
    flags = [f.format(missing=tmp_path / "missing", tmp=tmp_path, file=tmp_path / "file", data=data_file) for f in flags]
    code, _, err = run(capsys, "probe", "--data", data_file, "--model", "m", *flags)
    assert_clear_error(code, err, fragment)
    assert fake_suite.calls == []
    assert data_file.read_text().startswith("text,label")  # the input is untouched


def test_an_unwritable_default_cache_only_turns_the_cache_off(capsys, tmp_path, data_file, fake_suite, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would go")
    monkeypatch.setattr("advisor.cli.DEFAULT_CACHE_DIR", str(blocked / "cache"))
    code, _, err = run(capsys, "probe", "--data", data_file, "--model", "m")
    assert code == 0, err
    assert "will not be cached" in err and fake_suite.calls[0]["cache_dir"] is None


# -- a finished suite is never lost ----------------------------------------------------------------------------

def test_outputs_that_fail_after_the_probe_go_to_a_fallback_file_and_say_where(capsys, tmp_path, data_file, fake_suite):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    fake_suite.before = lambda kwargs: out_dir.rmdir()  # the output directory vanishes while probes run
    code, _, err = run(capsys, *probe_args(data_file, tmp_path, "--suite-json", out_dir / "s.json", "--json", out_dir / "r.json",
                                           "--markdown", out_dir / "r.md"))
    assert code == 1, err
    assert "Traceback" not in err
    fallbacks = sorted((tmp_path / "cache").glob("tuning-advisor-*"))
    assert [p.name.split("-2")[0] for p in fallbacks] == ["tuning-advisor-json-report", "tuning-advisor-markdown-report",
                                                          "tuning-advisor-probe-suite"]
    for path in fallbacks:
        assert str(path) in err
    suite_file = next(p for p in fallbacks if "probe-suite" in p.name)
    assert SuiteResult.model_validate_json(suite_file.read_text()) == finished_suite()
    AdvisorReport.model_validate_json(next(p for p in fallbacks if "json-report" in p.name).read_text())


def test_a_failure_after_the_probe_keeps_the_suite(capsys, tmp_path, data_file, fake_suite, monkeypatch):
    import advisor.api

    def broken_advise(*args, **kwargs):
        raise RuntimeError("a bug in the fusion step")

    monkeypatch.setattr(advisor.api, "advise", broken_advise)
    code, _, err = run(capsys, *probe_args(data_file, tmp_path))
    assert code == 1 and "internal error: RuntimeError: a bug in the fusion step" in err and "Traceback" not in err
    kept = next((tmp_path / "cache").glob("tuning-advisor-suite-*.json"))
    assert f"saved to {kept}" in err and f"--probe-results {kept}" in err
    assert SuiteResult.model_validate_json(kept.read_text()) == finished_suite()


def test_situation_flags_are_checked_before_the_probe_runs(capsys, tmp_path, data_file, fake_suite):
    code, _, err = run(capsys, *probe_args(data_file, tmp_path, "--n-tasks", "0"))
    assert_clear_error(code, err, "'n_tasks'", "greater than or equal to 1", "Got 0")
    assert fake_suite.calls == []


def test_save_adapter_that_saved_nothing_exits_nonzero_and_says_why(capsys, tmp_path, data_file, fake_suite):
    code, _, err = run(capsys, *probe_args(data_file, tmp_path, "--save-adapter", tmp_path / "adapters"))
    assert code == 1 and "--save-adapter" in err and "no adapter was saved" in err


def test_data_warnings_are_shown_on_stderr(capsys, tmp_path, data_file, fake_suite):
    code, out, err = run(capsys, *probe_args(data_file, tmp_path))
    assert code == 0, err
    assert "data warning: Dropped 1 row(s) whose 'label' is a missing-value marker ('N/A')" in err
    assert "data warning: Merged 'label' values that differ only in case: 'pos' (60), 'POS' (1) -> 'pos'" in err
    assert "Recommendation:" in out


# -- numbers -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "1", "-5", "9", "ten", "1.5", ""])
def test_max_examples_below_what_a_probe_needs_is_a_clear_error(capsys, tmp_path, data_file, fake_suite, value):
    code, _, err = run(capsys, *probe_args(data_file, tmp_path, "--max-examples", value))
    assert_clear_error(code, err, "--max-examples", "at least 10", "cross-validation")
    assert fake_suite.calls == []


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999", "0", "-1", "abc"])
def test_budget_minutes_must_be_finite_and_positive(capsys, tmp_path, data_file, fake_suite, value):
    code, _, err = run(capsys, *probe_args(data_file, tmp_path, f"--budget-minutes={value}"))
    assert_clear_error(code, err, "--budget-minutes", "greater than 0", repr(value))
    code, _, err = run(capsys, "demo", f"--budget-minutes={value}")
    assert_clear_error(code, err, "--budget-minutes")
    assert fake_suite.calls == []


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "many", "nan"])
def test_budget_steps_must_be_a_whole_number_of_at_least_one(capsys, tmp_path, data_file, fake_suite, value):
    for command in (probe_args(data_file, tmp_path), ["demo"]):
        code, _, err = run(capsys, *command, f"--budget-steps={value}")
        assert_clear_error(code, err, "--budget-steps", "of at least 1")
    assert fake_suite.calls == []


def test_budget_steps_is_passed_to_run_suite_only_when_given(capsys, tmp_path, data_file, fake_suite):
    assert run(capsys, *probe_args(data_file, tmp_path, "--budget-steps", "40"))[0] == 0
    assert run(capsys, *probe_args(data_file, tmp_path))[0] == 0
    assert fake_suite.calls[0]["budget_steps"] == 40 and "budget_steps" not in fake_suite.calls[1]


# -- --probe-results -----------------------------------------------------------------------------------------------

def suite_file(tmp_path, mutate=None) -> Path:
    document = json.loads(finished_suite().model_dump_json())
    if mutate:
        mutate(document)
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(document, allow_nan=True))
    return path


def test_probe_results_read_back_give_finite_confidence(capsys, tmp_path):
    out = tmp_path / "r.json"
    code, stdout, err = run(capsys, *RECOMMEND, "--probe-results", suite_file(tmp_path), "--json", out)
    assert code == 0, err
    report = AdvisorReport.model_validate_json(out.read_text())
    # probed on a 0.022B model for a 7B target: proxy evidence
    assert report.recommendation.evidence_basis == "rules+proxy probes" and 0 <= report.recommendation.confidence <= 1


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_probe_results_with_nan_or_inf_metrics_are_refused(capsys, tmp_path, value):
    path = suite_file(tmp_path, lambda d: d["trials"][1]["curve"][0].update(eval_metric=value))
    code, out, err = run(capsys, *RECOMMEND, "--probe-results", path, "--json", tmp_path / "r.json")
    assert_clear_error(code, err, "--probe-results", "suite.json", "trials.1.curve.0.eval_metric is NaN or infinite")
    assert not (tmp_path / "r.json").exists() and "nan" not in out.lower()


@pytest.mark.parametrize("content, fragment", [
    ("task_type: classification\n", "is not valid JSON"),
    ('{"trials": "none"}', "is not a probe suite"),
    ("[]", "expected a JSON object"),
    ("", "is not valid JSON"),
])
def test_probe_results_that_are_not_a_suite_are_refused(capsys, tmp_path, content, fragment):
    (tmp_path / "suite.json").write_text(content)
    code, _, err = run(capsys, *RECOMMEND, "--probe-results", tmp_path / "suite.json")
    assert_clear_error(code, err, "--probe-results", fragment)
    assert "pydantic" not in err.lower() and "validation error" not in err.lower()


def test_probe_results_over_the_size_limit_are_refused(capsys, tmp_path, monkeypatch):
    from knowledge import limits

    path = suite_file(tmp_path)
    small = limits.input_limits().model_copy(update={"probe_results_max_bytes": 1000})
    monkeypatch.setattr(limits, "input_limits", lambda: small)
    code, _, err = run(capsys, *RECOMMEND, "--probe-results", path)
    assert_clear_error(code, err, "--probe-results", "the limit is 1,000 bytes")


# -- text and special numbers in situation fields ------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragments", [
    (["--model-name", "llama\udcff"], ["'model_name'", "valid UTF-8", "lone surrogate"]),
    (["--deadline-days", ".inf"], ["'deadline_days'", "finite number"]),
    (["--deadline-days", "inf"], ["'deadline_days'", "finite number"]),
    (["--deadline-days", ".nan"], ["'deadline_days'", "finite number"]),
    (["--gpu-memory-gb", "NaN"], ["'gpu_memory_gb'", "finite number"]),
    (["--examples", "[1"], ["'n_labeled_examples'", "valid integer", "'[1'"]),
    (["--examples", "*alias"], ["'n_labeled_examples'", "'*alias'"]),
    (["--examples", "!!python/object/apply:os.system ['true']"], ["'n_labeled_examples'", "!!python"]),
    (["--model-params-b", "2024-13-45"], ["'model_params_b'"]),
    (["--task", "yes"], ["'task_type'", "'yes'"]),
])
def test_bad_situation_flags_name_the_field(capsys, argv, fragments):
    code, _, err = run(capsys, *RECOMMEND, *argv)
    assert_clear_error(code, err, *fragments)


@pytest.mark.parametrize("flag", ["--model", "--text-column", "--gguf-file"])
def test_probe_text_flags_with_lone_surrogates_are_refused(capsys, tmp_path, data_file, fake_suite, flag):
    argv = probe_args(data_file, tmp_path, flag, "x\udcffy") if flag != "--model" else \
        ["probe", "--data", data_file, "--model", "x\udcffy"]
    code, _, err = run(capsys, *argv)
    assert_clear_error(code, err, flag, "valid UTF-8")


def test_deadline_days_round_trips_through_the_json_report(capsys, tmp_path):
    out = tmp_path / "r.json"
    assert run(capsys, *RECOMMEND, "--deadline-days", "1e5", "--model-name", "café-model", "--json", out)[0] == 0
    report = AdvisorReport.model_validate_json(out.read_text(encoding="utf-8"))
    assert report.situation.deadline_days == 100000.0 and report.situation.model_name == "café-model"
    assert AdvisorReport.model_validate_json(report.model_dump_json()) == report
    situation = tmp_path / "s.yaml"
    situation.write_text("task_type: qa\nn_labeled_examples: 10\nmodel_params_b: 1\ndeadline_days: .inf\n")
    code, _, err = run(capsys, "recommend", "--situation", situation)
    assert_clear_error(code, err, "'deadline_days'", "finite number")


def test_a_situation_file_with_control_characters_is_a_clear_error(capsys, tmp_path):
    situation = tmp_path / "s.yaml"
    situation.write_text("task_type: qa\nn_labeled_examples: 10\x1f\nmodel_params_b: 1\n")
    code, _, err = run(capsys, "recommend", "--situation", situation)
    assert_clear_error(code, err, "s.yaml", "is not valid YAML/JSON: unacceptable character #x001f")


def test_argparse_errors_are_one_short_paragraph(capsys):
    code, _, err = run(capsys, "recommend", "--no-such-flag", "x" * 5000)
    assert_clear_error(code, err, "unrecognized arguments: --no-such-flag", "characters)")
    assert len(err) < 500 and "usage:" not in err
    code, _, err = run(capsys, "probe")
    assert_clear_error(code, err, "the following arguments are required: --data, --model")
    assert main(["--help"]) == 0
    capsys.readouterr()


# -- fuzz: random flag values never end in a traceback ---------------------------------------------------------------

FIELD_FLAGS = ["--task", "--examples", "--model-params-b", "--access", "--model-name", "--gpu-memory-gb", "--n-gpus",
               "--n-tasks", "--seq-len-tokens", "--deadline-days", "--priority", "--compute-budget", "--model-architecture",
               "--forgetting-sensitivity", "--requirements-change", "--base-model-updates"]
BOOL_FLAGS = ["--latency-sensitive", "--no-latency-sensitive", "--strict-consistency", "--data-on-premises-only",
              "--needs-domain-knowledge", "--continued-pretraining", "--interpretability-required"]
values = st.one_of(
    st.text(max_size=20).filter(lambda v: not v.startswith("-")),
    st.sampled_from(["0", "-1", "1e400", ".inf", "-.inf", ".nan", "nan", "null", "~", "[]", "{}", "[1", "*a", "&a 1",
                     "!!binary AAAA", "classification", "qa", "open_weights", "api_only", "7", "0.001", "1e9", "24",
                     "yes", "no", "2024-01-01", "0x10", "1_000", "\udcff", "é" * 300, "x" * 3000]),
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def recommend_argv(draw):
    argv = ["recommend"]
    for flag in draw(st.lists(st.sampled_from(FIELD_FLAGS), max_size=6, unique=True)):
        argv += [flag, draw(values)]
    argv += draw(st.lists(st.sampled_from(BOOL_FLAGS), max_size=2, unique=True))
    if draw(st.booleans()):
        argv += ["--task", "classification", "--examples", "400", "--model-params-b", "7"][: draw(st.integers(0, 6))]
    return argv


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=recommend_argv())
def test_fuzz_recommend_flags_exit_0_or_2_with_a_message(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err and "internal error" not in err
    if code == 0:
        assert out.startswith("Recommendation:")
    else:
        assert err.startswith("error") and len(err) < 3000, err


# -- the real subprocess --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    ([*RECOMMEND, "--json", "/nonexistent-dir/r.json"], "--json"),
    ([*RECOMMEND, "--deadline-days", ".inf"], "'deadline_days'"),
    (["recommend", "--probe-results", "/dev/null", *RECOMMEND[1:]], "--probe-results"),
    (["probe", "--data", "/", "--model", "m"], "is a directory"),
    (["probe", "--data", "x.csv", "--model", "m", "--max-examples", "1"], "--max-examples"),
    (["probe", "--data", "x.csv", "--model", "m", "--budget-minutes", "nan"], "--budget-minutes"),
])
def test_real_cli_bad_input_exits_2_without_traceback(argv, fragment):
    result = subprocess.run([sys.executable, "-m", "advisor.cli", *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and fragment in result.stderr
    assert result.stderr.startswith("error") and "\n\n" not in result.stderr.strip()


def test_real_cli_invalid_utf8_model_name_is_a_clear_error():
    result = subprocess.run([sys.executable.encode(), b"-m", b"advisor.cli", *[a.encode() for a in RECOMMEND],
                             b"--model-name", b"llama-\xff\xfe"], capture_output=True, timeout=120)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2 and "Traceback" not in stderr
    assert "'model_name'" in stderr and "valid UTF-8" in stderr


def test_a_billion_laughs_situation_file_is_refused_before_it_grows(tmp_path, capsys):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]  # 9^10 strings if expanded
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\ntask_type: classification\n", encoding="utf-8")
    code, _, err = run(capsys, "recommend", "--situation", path)
    assert_clear_error(code, err, "laughs.yaml", "alias")


def test_an_oversized_situation_file_is_refused_by_its_size(tmp_path, capsys):
    from knowledge import limits

    path = tmp_path / "huge.yaml"
    path.write_text("task_type: classification\nnote: '" + "x" * (limits.input_limits().situation_file_max_bytes + 10) + "'\n",
                    encoding="utf-8")
    code, _, err = run(capsys, "recommend", "--situation", path)
    assert_clear_error(code, err, "huge.yaml")
    assert "x" * 200 not in err  # the value is not echoed
