"""The probe suite on a tiny random decoder: LM-head classification with measured prompting, generation metrics,
and the probed-model facts the advisor needs to label proxy evidence (plumbing, fast)."""
import pandas as pd
import pytest

from probes import ProbeStatus, run_suite
from tests.probing.test_suite_tiny import llama_dir  # noqa: F401 - shared tiny-model fixture
from tests.tiny_models import WORDS


def _rows(n):
    import random

    rng = random.Random(0)
    labels = ["good", "bad"]
    return [{"text": " ".join(rng.sample(WORDS[:30], 5)), "label": labels[i % 2]} for i in range(n)]


def test_decoder_classification_suite_scores_every_method_by_label_likelihood(llama_dir):  # noqa: F811
    suite = run_suite(pd.DataFrame(_rows(240)), model=str(llama_dir), budget_steps=40, cache_dir=None,
                      methods=["prompt_tuning", "lora"])
    by_method = {t.method: t for t in suite.trials}
    assert {"zero_shot", "few_shot", "linear_probe", "prompt_tuning", "lora"} <= set(by_method)
    assert suite.baseline().method == "zero_shot" and suite.baseline().config["scoring"].startswith("label likelihood")
    assert by_method["few_shot"].status == ProbeStatus.COMPLETE, by_method["few_shot"].message
    assert by_method["few_shot"].config["k"] > 0
    assert by_method["few_shot"].config["prompt_tokens_mean"] > by_method["zero_shot"].config["prompt_tokens_mean"]
    curve = [t for t in suite.trials if t.phase == "curve"]
    assert curve and all(t.curve and t.status == ProbeStatus.COMPLETE for t in curve), [t.message for t in curve]
    ids = {t.method: t.curve[-1].n_eval_examples for t in suite.trials}
    assert set(ids.values()) == {len(suite.eval_example_ids)}  # every method scored on the same examples
    assert suite.model_architecture == "decoder" and 0 < suite.probed_model_params_b < 0.001


def test_latency_sensitive_few_shot_uses_the_smaller_cap(llama_dir):  # noqa: F811
    from probes.decoder.settings import decoder_settings

    suite = run_suite(pd.DataFrame(_rows(240)), model=str(llama_dir), budget_steps=20, cache_dir=None,
                      methods=["lora"], latency_sensitive=True)
    few = next(t for t in suite.trials if t.method == "few_shot")
    cap = decoder_settings().few_shot.max_prompt_tokens_latency_sensitive
    assert few.config["token_budget"] == min(cap, 256) and few.config["prompt_tokens_max"] <= few.config["token_budget"]


def test_generation_suite_records_generation_metrics(llama_dir):  # noqa: F811
    rows = [{"prompt": f"question {w} day {i}", "completion": f"answer {w}"} for i, w in enumerate(WORDS[:20] * 5)]
    suite = run_suite(pd.DataFrame(rows), model=str(llama_dir), budget_steps=20, cache_dir=None, methods=["lora"])
    baseline = suite.baseline()
    assert baseline.generation is not None and baseline.generation.example_ids
    final = suite.curve_trials("lora")[-1]
    assert final.curve and final.status == ProbeStatus.COMPLETE, final.message
    assert final.generation is not None and final.generation.example_ids == baseline.generation.example_ids
    assert 0.0 <= final.generation.mean_rouge_l <= 1.0 and final.generation.mean_completion_loss > 0
    assert suite.model_architecture == "decoder"


def test_encoder_suite_records_its_architecture(tmp_path):
    from tests.tiny_models import sentiment_rows, tiny_bert

    suite = run_suite(pd.DataFrame(sentiment_rows(240)), model=str(tiny_bert(tmp_path / "bert")), budget_steps=20,
                      cache_dir=None, methods=["lora"])
    assert suite.model_architecture == "encoder" and suite.baseline().method == "zero_shot"
    assert "embedding" in suite.baseline().config["baseline"]
    assert suite.probed_model_params_b == pytest.approx(suite.trials[0].total_params / 1e9, abs=1e-6)
