"""The suite cache (probes.store): verified keys, atomic unique writes, never a failure stored as a result;
and suite JSON files a user hands back in (--probe-results)."""
import json
import os

import pytest

from factories import make_suite, make_trial
from knowledge.errors import ProbeError
from probes.result import ProbeStatus
from probes.store import load_cached, read_suite_json, save_cached


def good_suite(key: str = ""):
    return make_suite({"lora": 0.8, "prompt_tuning": 0.65}).model_copy(update={"cache_key": key})


def test_load_cached_verifies_the_key_stored_in_the_file(tmp_path):
    assert save_cached(str(tmp_path), "aaa", good_suite("aaa")) is None
    assert load_cached(str(tmp_path), "aaa").cache_key == "aaa"
    # the same file under another key (copied, renamed, or a hash collision on the file name) is not trusted
    (tmp_path / "suite-bbb.json").write_bytes((tmp_path / "suite-aaa.json").read_bytes())
    assert load_cached(str(tmp_path), "bbb") is None


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe\x00garbage", b'{"schema_version": "1.0.0"}', b"[]"])
def test_load_cached_ignores_damaged_files(tmp_path, content):
    (tmp_path / "suite-k.json").write_bytes(content)
    assert load_cached(str(tmp_path), "k") is None


def test_load_cached_ignores_a_directory_in_place_of_the_file(tmp_path):
    (tmp_path / "suite-k.json").mkdir()
    assert load_cached(str(tmp_path), "k") is None


@pytest.mark.parametrize("status, message", [(ProbeStatus.FAILED, "ValueError: boom"),
                                             (ProbeStatus.OUT_OF_MEMORY, "OutOfMemoryError: CUDA out of memory"),
                                             (ProbeStatus.STOPPED, "cancelled by the user")])
def test_a_suite_with_a_failed_oom_or_cancelled_trial_is_never_cached(tmp_path, status, message):
    suite = good_suite()
    broken = suite.model_copy(update={"trials": [*suite.trials, make_trial("lora", [True, False], status=status, message=message)]})
    assert not broken.is_cacheable() and broken.unfinished_trials()[0].status == status
    reason = save_cached(str(tmp_path), "k", broken)
    assert reason and "not cached" in reason
    assert not (tmp_path / "suite-k.json").exists()
    # a file left by an older version with such a suite is not served either
    (tmp_path / "suite-k.json").write_text(broken.model_copy(update={"cache_key": "k"}).model_dump_json())
    assert load_cached(str(tmp_path), "k") is None


def test_a_trial_stopped_by_its_time_budget_or_divergence_is_a_result(tmp_path):
    suite = good_suite()
    stopped = suite.model_copy(update={"trials": [*suite.trials,
                                                  make_trial("lora", [True, False], status=ProbeStatus.STOPPED, message="time budget for this trial used up"),
                                                  make_trial("prompt_tuning", [True, False], status=ProbeStatus.STOPPED, message="diverged: training loss became nan at step 3")]})
    assert stopped.is_cacheable()
    assert save_cached(str(tmp_path), "k", stopped) is None and load_cached(str(tmp_path), "k") is not None


def test_save_cached_writes_through_a_unique_temporary_file(tmp_path, monkeypatch):
    # the old fixed temporary name is taken by a directory: a fixed name fails, a unique one does not
    (tmp_path / ".suite-k.json.tmp").mkdir()
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (replaced.append((str(src), str(dst))), real_replace(src, dst))[1])
    assert save_cached(str(tmp_path), "k", good_suite()) is None
    assert save_cached(str(tmp_path), "k", good_suite()) is None
    assert len(replaced) == 2 and replaced[0][0] != replaced[1][0]
    assert all(os.path.dirname(src) == str(tmp_path) and dst == str(tmp_path / "suite-k.json") for src, dst in replaced)
    assert load_cached(str(tmp_path), "k").cache_key == "k"  # stored under the key it is filed under
    assert sorted(p.name for p in tmp_path.iterdir()) == [".suite-k.json.tmp", "suite-k.json"]  # no temporary left


def test_a_cache_write_failure_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    reason = save_cached(str(blocker), "k", good_suite())
    assert reason and "not cached" in reason


# -- suite JSON a user hands in ---------------------------------------------------------------------------------

def write_suite(path, mutate=None):
    document = json.loads(good_suite().model_dump_json())
    if mutate:
        mutate(document)
    path.write_text(json.dumps(document, allow_nan=True))
    return path


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_suite_json_with_non_finite_metrics_is_refused_naming_the_field(tmp_path, value):
    path = write_suite(tmp_path / "s.json", lambda d: d["trials"][0]["curve"][0].update(eval_metric=value))
    with pytest.raises(ProbeError, match=r"trials\.0\.curve\.0\.eval_metric is NaN or infinite") as error:
        read_suite_json(path)
    assert "s.json" in str(error.value)


def test_suite_json_with_impossible_measurements_is_refused(tmp_path):
    path = write_suite(tmp_path / "s.json", lambda d: d["trials"][0]["curve"][0].update(eval_metric=7.5))
    with pytest.raises(ProbeError, match="eval_metric 7.5 .* expected 0 to 1"):
        read_suite_json(path)


@pytest.mark.parametrize("content, expected", [
    (b"task_kind: classification\n", "is not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is not valid UTF-8"),
    (b"[1, 2, 3]", "expected a JSON object"),
    (b'{"task_kind": "classification"}', "is not a probe suite: "),
    (b"[" * 100000 + b"]" * 100000, "nests too deeply"),
])
def test_suite_json_that_is_not_a_suite_is_a_clear_error(tmp_path, content, expected):
    (tmp_path / "s.json").write_bytes(content)
    with pytest.raises(ProbeError, match=expected):
        read_suite_json(tmp_path / "s.json")


def test_suite_json_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    from knowledge import limits

    path = write_suite(tmp_path / "s.json")
    small = limits.input_limits().model_copy(update={"probe_results_max_bytes": 100})
    monkeypatch.setattr(limits, "input_limits", lambda: small)
    with pytest.raises(ProbeError, match="the limit is"):
        read_suite_json(path)
    with pytest.raises(ProbeError, match="is a directory"):
        read_suite_json(tmp_path)
