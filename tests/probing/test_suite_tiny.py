"""Real training loops on tiny models built from configs: the step plan, paired per-example records, k-fold for tiny
data, failures recorded, the cache (fast; step budgets, never wall-clock)."""
import json
import os

import pandas as pd
import pytest

from advisor import Situation, advise
from probes import ProbeStatus, run_suite
from probes.data import load_dataset
from probes.result import Phase
from probes.settings import probe_settings

from tiny_models import sentiment_rows, tiny_bert, tiny_llama

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BUDGET = 150


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def holdout_suite(bert_dir):
    return run_suite(load_dataset(pd.DataFrame(sentiment_rows(300))), model=str(bert_dir), budget_steps=BUDGET, cache_dir=None)


def test_every_method_is_scored_on_the_same_examples_with_per_example_results(holdout_suite):
    suite = holdout_suite
    assert suite.evaluation.kind == "holdout" and suite.evaluation.n_eval_examples == len(suite.eval_example_ids) == 75
    assert {t.method for t in suite.trials} == {"zero_shot", "linear_probe", "prompt_tuning", "lora", "full_finetune"}
    for trial in suite.trials:
        assert trial.status in (ProbeStatus.COMPLETE, ProbeStatus.STOPPED), trial.message
        last = trial.curve[-1]
        if trial.phase != Phase.LR_SWEEP:
            assert last.n_eval_examples == 75  # last points score the whole evaluation split
        scores = last.per_example()
        assert len(scores) == last.n_eval_examples and sum(scores) / len(scores) == pytest.approx(last.eval_metric, abs=1e-4)


def test_the_step_plan_is_kept_and_sweep_winners_are_continued(holdout_suite):
    suite = holdout_suite
    assert suite.budget_steps == BUDGET and 0 < suite.planned_steps <= BUDGET and suite.steps_done == suite.planned_steps
    grid = probe_settings().learning_rate_grids
    for method in ("prompt_tuning", "lora", "full_finetune"):
        main = suite.curve_trials(method)[-1]
        assert suite.selected_learning_rates[method] == main.learning_rate and main.learning_rate in grid[method]
        losers = [t for t in suite.trials if t.method == method and t.phase == Phase.LR_SWEEP]
        if losers:  # the winner went on from the sweep's last step rather than starting again
            sweep_step = losers[0].curve[-1].step
            assert any(p.step == sweep_step for p in main.curve) and main.curve[-1].step > sweep_step
    lora, pt, ft = (suite.curve_trials(m)[-1] for m in ("lora", "prompt_tuning", "full_finetune"))
    assert 0 < pt.trainable_params < lora.trainable_params < ft.trainable_params
    assert lora.adapter_size_mib > 0 and lora.tokens_per_s > 0 and lora.peak_memory_gib is not None


def test_same_inputs_seed_and_step_budget_give_the_same_result(bert_dir, holdout_suite):
    again = run_suite(load_dataset(pd.DataFrame(sentiment_rows(300))), model=str(bert_dir), budget_steps=BUDGET, cache_dir=None)
    first = [(t.trial_id, [(p.step, p.eval_metric, p.correct_bits) for p in t.curve]) for t in holdout_suite.trials]
    second = [(t.trial_id, [(p.step, p.eval_metric, p.correct_bits) for p in t.curve]) for t in again.trials]
    assert first == second


def test_a_repeated_question_is_served_from_the_cache(bert_dir, tmp_path):
    dataset = load_dataset(pd.DataFrame(sentiment_rows(200)))
    cache = tmp_path / "cache"
    first = run_suite(dataset, model=str(bert_dir), budget_steps=60, cache_dir=str(cache), methods=["lora"])
    files = list(cache.glob("suite-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["cache_key"] == first.cache_key
    assert run_suite(dataset, model=str(bert_dir), budget_steps=60, cache_dir=str(cache), methods=["lora"]) == first


def test_tiny_data_is_cross_validated_so_every_row_is_scored(bert_dir):
    suite = run_suite(load_dataset(pd.DataFrame(sentiment_rows(40))), model=str(bert_dir), budget_steps=90, cache_dir=None,
                      methods=["lora"])
    assert suite.evaluation.kind == "kfold" and suite.evaluation.n_folds == 5
    lora = suite.fold_trials("lora")
    scored = sorted(i for t in lora for i in t.eval_example_ids)
    assert scored == list(range(40))  # one repetition: every row once, by a model that did not train on it
    report = advise(Situation(task_type="classification", n_labeled_examples=40, model_params_b=0.0001,
                              model_architecture="encoder", gpu_memory_gb=0), probe_results=suite)
    lora_evidence = report.probe_evidence.method("lora")
    assert lora_evidence.measured is not None and report.probe_evidence.evaluation.kind == "kfold"


def test_out_of_memory_and_divergence_are_recorded_and_the_report_says_so(bert_dir, monkeypatch, tmp_path):
    import torch

    from probes import run as run_module

    real_step = run_module.LiveTrial._one_step

    def one_step(self):
        if self.spec.method == "lora":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self)

    monkeypatch.setattr(run_module.LiveTrial, "_one_step", one_step)
    base = probe_settings()
    settings = base.model_copy(update={  # a rate that makes full fine-tuning's loss explode, swept or not
        "learning_rate_grids": {**base.learning_rate_grids, "full_finetune": [1e12, 1e13]},
        "plan": base.plan.model_copy(update={"default_learning_rate": {**base.plan.default_learning_rate, "full_finetune": 1e12}})})
    cache = tmp_path / "cache"
    suite = run_suite(load_dataset(pd.DataFrame(sentiment_rows(200))), model=str(bert_dir), budget_steps=90,
                      cache_dir=str(cache), settings=settings, methods=["lora", "full_finetune", "prompt_tuning"])
    lora = [t for t in suite.trials if t.method == "lora"]
    assert lora and all(t.status == ProbeStatus.OUT_OF_MEMORY for t in lora)
    ft = [t for t in suite.trials if t.method == "full_finetune"]
    assert ft and all(t.status == ProbeStatus.STOPPED and "diverged" in t.message for t in ft)
    report = advise(Situation(task_type="classification", n_labeled_examples=200, model_params_b=0.0001,
                              model_architecture="encoder", gpu_memory_gb=0), probe_results=suite)
    evidence = report.probe_evidence
    assert "out_of_memory" in evidence.method("lora").not_measured_reason
    assert "diverged" in evidence.method("full_finetune").not_measured_reason
    assert evidence.method("prompt_tuning").measured is not None  # the others carried on
    assert not list(cache.glob("suite-*.json"))  # a suite with failures is not cached as a result


def test_generation_suite_on_tiny_decoder(llama_dir):
    words = ["good", "bad", "fine", "okay", "yes", "no", "maybe", "fast", "slow", "cheap"]
    rows = [{"prompt": f"question {w} {i}", "completion": f"answer {w}"} for i, w in enumerate(words * 12)]
    suite = run_suite(pd.DataFrame(rows), model=str(llama_dir), budget_steps=40, cache_dir=None, methods=["prompt_tuning", "lora"])
    assert suite.task_kind == "generation" and suite.metric_name == "token_accuracy"
    assert suite.baseline().status == ProbeStatus.COMPLETE and suite.baseline().generation is not None
    for method in ("prompt_tuning", "lora"):
        main = suite.curve_trials(method)[-1]
        assert main.curve and main.curve[-1].example_scores is not None and main.generation is not None, main.message


def test_unknown_model_is_a_clear_error(tmp_path):
    from advisor import ProbeError

    with pytest.raises(ProbeError, match="could not be loaded"):
        run_suite(pd.DataFrame(sentiment_rows(200)), model=str(tmp_path / "no-such-model"), budget_steps=20, cache_dir=None)


def test_best_adapters_are_saved_and_reload_with_peft(bert_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    target = tmp_path / "adapters"
    suite = run_suite(pd.DataFrame(sentiment_rows(200)), model=str(bert_dir), budget_steps=60, cache_dir=None,
                      methods=["prompt_tuning", "lora"], save_best_adapter=str(target))
    for method in ("prompt_tuning", "lora"):
        assert suite.curve_trials(method)[-1].status == ProbeStatus.COMPLETE
        assert (target / method / "adapter_config.json").is_file()
    base = AutoModelForSequenceClassification.from_pretrained(str(bert_dir), num_labels=2)
    reloaded = PeftModel.from_pretrained(base, str(target / "lora"))
    assert any("lora_" in name for name, _ in reloaded.named_parameters())
