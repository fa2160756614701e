"""Measured few-shot prompting and generation metrics on a tiny random Llama (plumbing, not quality)."""
import math
from collections import Counter

import pytest

from probes.decoder.settings import decoder_settings
from tests.probing.test_decoder import _rows, llama  # noqa: F401 - the shared tiny-model fixture

SETTINGS = decoder_settings()


def _evaluator(llama, n=60, labels=("good", "bad", "okay")):  # noqa: F811
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(n, labels)
    return label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS)


def _few_shot(evaluator, window, latency_sensitive=False, **few_shot):
    from probes.decoder.in_context import choose_demonstrations

    settings = SETTINGS.few_shot.model_copy(update=few_shot)
    return choose_demonstrations(evaluator, list(range(45)), list(range(45, 60)), settings, window, latency_sensitive)


def test_demonstrations_are_balanced_from_training_data_and_fit_the_budget(llama):  # noqa: F811
    evaluator = _evaluator(llama)
    prompt = _few_shot(evaluator, 256, max_prompt_tokens=200, max_per_label=8)
    counts = Counter(evaluator.labels[i] for i in prompt.demonstration_indices)
    assert prompt.k > 0 and set(counts.values()) == {prompt.per_label} and len(counts) == 3
    assert all(i < 45 for i in prompt.demonstration_indices)
    reserve = max(len(evaluator.query_ids[i]) for i in range(45, 60)) + 1
    measured = len(llama.tokenizer(prompt.prefix, add_special_tokens=True)["input_ids"])
    assert measured == prompt.prefix_tokens and prompt.prefix_tokens + reserve <= prompt.token_budget == 200
    bigger = _few_shot(evaluator, 256, max_prompt_tokens=200, max_per_label=prompt.per_label + 1)
    assert bigger.k == prompt.k, "k must be the most whole rounds that fit"
    assert prompt.extra_tokens_per_request == prompt.prefix_tokens - prompt.instruction_tokens > 0


def test_context_window_and_latency_shrink_k(llama):  # noqa: F811
    from probes.decoder.in_context import context_window

    evaluator = _evaluator(llama)
    assert context_window(llama.model) == 256
    roomy = _few_shot(evaluator, 256, max_prompt_tokens=1000, max_per_label=6)
    tight = _few_shot(evaluator, 120, max_prompt_tokens=1000, max_per_label=6)
    latency = _few_shot(evaluator, 256, True, max_prompt_tokens=1000, max_prompt_tokens_latency_sensitive=90, max_per_label=6)
    assert roomy.token_budget == 256 and tight.token_budget == 120 and latency.token_budget == 90
    assert roomy.k > tight.k > 0 and tight.k >= latency.k
    assert _few_shot(evaluator, 256, max_prompt_tokens=1000, max_per_label=6) == roomy, "fixed seed: same demonstrations"


def test_nothing_fits_means_no_demonstrations_and_says_so(llama):  # noqa: F811
    prompt = _few_shot(_evaluator(llama), 256, max_prompt_tokens=25)
    assert prompt.k == 0 and "fits" in prompt.note and prompt.prefix_tokens == prompt.instruction_tokens


def test_prompting_trials_score_the_same_examples(llama):  # noqa: F811
    from probes.decoder.trials import prompting_trials
    from probes.result import ProbeStatus

    evaluator = _evaluator(llama)
    zero, few = prompting_trials(llama.model, llama.n_params, evaluator, list(range(45)), list(range(45, 60)), "cpu", SETTINGS)
    assert [zero.method, few.method] == ["zero_shot", "few_shot"]
    assert zero.status == few.status == ProbeStatus.COMPLETE, [zero.message, few.message]
    assert zero.curve[-1].n_eval_examples == few.curve[-1].n_eval_examples == 15  # the same 15 examples, per example
    assert evaluator.last.example_ids == list(range(45, 60))
    assert zero.curve[-1].per_example() == [1.0 if ok else 0.0 for ok in evaluator.last.correct]
    assert few.config["k"] > 0 and few.config["prompt_tokens_mean"] > zero.config["prompt_tokens_mean"]
    assert few.final_metric == pytest.approx(sum(few.curve[-1].per_example()) / 15, abs=1e-5)
    assert few.config["extra_tokens_per_request"] == few.config["prefix_tokens"] - len(evaluator.prefix_ids)


def test_exact_match_and_rouge_l():
    from probes.decoder.generation_metrics import exact_match, rouge_l

    assert exact_match(" the  cat sat ", "the cat sat") == 1.0 and exact_match("The cat", "the cat") == 0.0
    scores = rouge_l(["the cat sat on the mat", "dog", "", "le chat était là"], ["the cat sat", "cat", "", "le chat était ici"])
    assert scores[0] == pytest.approx(2 * 1.0 * 0.5 / 1.5) and scores[1] == 0.0 and scores[2] == 1.0
    assert scores[3] == pytest.approx(0.75), "non-ASCII words count (rouge-score's own tokenizer drops them)"


def test_generation_scores_respect_caps_and_match_a_direct_loss(llama):  # noqa: F811
    import torch

    from probes.decoder.generation_metrics import PROMPT_SUFFIX, generation_scores

    model, tok = llama.model, llama.tokenizer  # a causal LM (loaded with lm_head=True) = llama.tokenizer
    prompts = ["good day is", "the car was very", "a bad night"] * 4
    references = ["fine", "fast and slow", "yes no maybe answer question"] * 4
    settings = SETTINGS.generation.model_copy(update={"max_examples": 5, "max_new_tokens": 6, "batch_size": 2})
    scores = generation_scores(model, tok, prompts, references, list(range(12)), settings, "cpu", max_prompt_tokens=64)
    assert scores.example_ids == [0, 1, 2, 3, 4] and len(scores.generations) == 5
    for text, cap in zip(scores.generations, scores.max_new_tokens):
        assert cap <= 6 and len(tok(text, add_special_tokens=False)["input_ids"]) <= cap
    assert scores.max_new_tokens[0] == min(6, math.ceil(2 * 1.5) + 4)
    ids = tok(prompts[1] + PROMPT_SUFFIX)["input_ids"]
    target = tok(references[1], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.inference_mode():
        loss = model(input_ids=torch.tensor([ids + target]), labels=torch.tensor([[-100] * len(ids) + target])).loss
    assert scores.completion_loss[1] == pytest.approx(float(loss), abs=1e-4)
    assert set(scores.summary()) == {"exact_match", "rouge_l", "completion_loss", "n_examples"}
