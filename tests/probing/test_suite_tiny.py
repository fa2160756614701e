"""Real training loops on tiny models built from configs: plumbing, statuses, caching (fast)."""
import os
import time

import pandas as pd
import pytest

from probes import ProbeStatus, run_suite
from probes.data import load_dataset
from probes.settings import probe_settings

from tiny_models import sentiment_rows, tiny_bert, tiny_llama

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def fast_settings(**overrides):
    values = probe_settings().model_dump()
    values.update(sweep_steps=3, curve_epochs_min=0.2, curve_epochs_max=0.5, eval_points_per_trial=2)
    values.update(overrides)
    return type(probe_settings()).model_validate(values)


def test_classification_suite_records_every_trial_and_caches(bert_dir, tmp_path):
    dataset = load_dataset(pd.DataFrame(sentiment_rows(300)))
    cache = str(tmp_path / "cache")
    suite = run_suite(dataset, model=str(bert_dir), budget_minutes=0.5, cache_dir=cache, settings=fast_settings())
    methods = {t.method for t in suite.trials}
    assert methods == {"frozen_baseline", "linear_probe", "prompt_tuning", "lora", "full_finetune"}
    assert all(t.status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED) for t in suite.trials), [t.message for t in suite.trials]
    for method in ("prompt_tuning", "lora", "full_finetune"):
        curve = suite.curve_trials(method)
        assert [t.data_fraction for t in curve] == [0.25, 0.5, 1.0]
        assert curve[0].n_train_examples < curve[-1].n_train_examples
        assert suite.selected_learning_rates[method] in probe_settings().learning_rate_grids[method]
    lora, pt = suite.curve_trials("lora")[-1], suite.curve_trials("prompt_tuning")[-1]
    assert 0 < pt.trainable_params < lora.trainable_params < suite.curve_trials("full_finetune")[-1].trainable_params
    assert lora.adapter_size_mib > 0 and lora.tokens_per_s > 0 and lora.peak_memory_gib is not None
    assert suite.data_profile.n_train + suite.data_profile.n_eval == 300
    assert suite.data_profile.label_counts == {"neg": 150, "pos": 150}

    started = time.perf_counter()
    again = run_suite(dataset, model=str(bert_dir), budget_minutes=0.5, cache_dir=cache, settings=fast_settings())
    assert time.perf_counter() - started < 10 and again == suite  # served from the cache, not retrained


def test_generation_suite_on_tiny_decoder(llama_dir):
    rows = [{"prompt": f"question {w}", "completion": f"answer {w}"} for w in
            ["good", "bad", "fine", "okay", "yes", "no", "maybe", "fast", "slow", "cheap"] * 12]
    rows = [dict(r, prompt=r["prompt"] + f" {i}") for i, r in enumerate(rows)]
    suite = run_suite(pd.DataFrame(rows), model=str(llama_dir), budget_minutes=0.4, cache_dir=None,
                      settings=fast_settings(), methods=["prompt_tuning", "lora"])
    assert suite.task_kind == "generation" and suite.metric_name == "token_accuracy"
    assert suite.baseline().status == ProbeStatus.COMPLETE
    for method in ("prompt_tuning", "lora"):
        assert suite.curve_trials(method)[-1].curve, suite.curve_trials(method)[-1].message


def test_diverging_learning_rate_is_recorded_as_stopped_not_fatal(bert_dir):
    settings = fast_settings(learning_rate_grids={"prompt_tuning": [0.03], "lora": [1e12], "full_finetune": [1e-4]},
                             sweep_steps=15)
    suite = run_suite(pd.DataFrame(sentiment_rows(200)), model=str(bert_dir), budget_minutes=0.5, cache_dir=None,
                      settings=settings, methods=["prompt_tuning", "lora"])
    lora_sweep = next(t for t in suite.trials if t.method == "lora" and t.phase == "lr_sweep")
    assert lora_sweep.status == ProbeStatus.STOPPED and "diverged" in lora_sweep.message
    assert suite.curve_trials("prompt_tuning")  # the other method carried on


def test_out_of_memory_errors_are_classified_as_oom():
    import torch

    from probes.run import _is_oom

    assert _is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert _is_oom(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert not _is_oom(ValueError("shapes do not match"))


def test_unknown_model_is_a_clear_error(tmp_path):
    from advisor import ProbeError

    with pytest.raises(ProbeError, match="could not be loaded"):
        run_suite(pd.DataFrame(sentiment_rows(200)), model=str(tmp_path / "no-such-model"), budget_minutes=0.2, cache_dir=None)


def test_best_adapters_are_saved_and_reload_with_peft(bert_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    target = tmp_path / "adapters"
    suite = run_suite(pd.DataFrame(sentiment_rows(200)), model=str(bert_dir), budget_minutes=0.3, cache_dir=None,
                      settings=fast_settings(), methods=["prompt_tuning", "lora"], save_best_adapter=str(target))
    for method in ("prompt_tuning", "lora"):
        final = suite.curve_trials(method)[-1]
        # the last trial may end at its time budget (the plan fills the minutes); trained and evaluated, it is saved
        assert final.curve and (final.status == ProbeStatus.COMPLETE or "time budget" in final.message), final.message
        assert (target / method / "adapter_config.json").is_file()
    base = AutoModelForSequenceClassification.from_pretrained(str(bert_dir), num_labels=2)
    reloaded = PeftModel.from_pretrained(base, str(target / "lora"))
    assert any("lora_" in name for name, _ in reloaded.named_parameters())
