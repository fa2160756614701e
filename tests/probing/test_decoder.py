"""Decoder probe paths on a tiny random Llama (plumbing, not quality): label likelihood, few-shot, generation."""
import math

import pytest

from knowledge.errors import ProbeError
from probes.decoder.settings import decoder_settings
from tests.tiny_models import WORDS, tiny_llama

SETTINGS = decoder_settings()


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    from probes.models import load_base_model

    return load_base_model(str(tiny_llama(tmp_path_factory.mktemp("llama"))), "classification", 2, lm_head=True)


def _rows(n, labels=("good", "bad"), seed=0):
    import random

    rng = random.Random(seed)
    texts = [" ".join(rng.sample(WORDS[:30], rng.randint(2, 9))) for _ in range(n)]
    return texts, [i % len(labels) for i in range(n)], list(labels)


def _assert_close(actual, expected, tolerance=1e-4):
    import numpy as np

    np.testing.assert_allclose(np.array(actual), np.array(expected), atol=tolerance, rtol=0)


def _reference_scores(model, tokenizer, prefix, queries, label_texts, normalisation):
    """One unpadded sequence per (query, label): sum or mean of the label tokens' log-probabilities."""
    import torch

    prefix_ids = tokenizer(prefix, add_special_tokens=True)["input_ids"]
    out = []
    with torch.inference_mode():
        for query in queries:
            row = []
            for label in label_texts:
                context = prefix_ids + tokenizer(query, add_special_tokens=False)["input_ids"]
                target = tokenizer(label, add_special_tokens=False)["input_ids"]
                logits = model(input_ids=torch.tensor([context + target])).logits[0].float().log_softmax(-1)
                lps = [float(logits[len(context) - 1 + t, tok]) for t, tok in enumerate(target)]
                row.append(sum(lps) / len(lps) if normalisation == "mean" else sum(lps))
            out.append(row)
    return out


@pytest.mark.parametrize("labels,normalisation", [(("good", "bad"), "mean"), (("very good", "not good", "okay"), "mean"),
                                                  (("very good", "bad"), "sum")])
def test_batched_cached_label_scores_equal_unpadded_reference(llama, labels, normalisation):
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(11, labels)
    settings = SETTINGS.model_copy(update={"label_score_normalisation": normalisation, "score_batch_size": 4})
    evaluator = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, settings)
    scores = evaluator.score(llama.model, list(range(11)), "cpu")
    expected = _reference_scores(llama.model, llama.tokenizer, evaluator.prefix, [evaluator.prompt.query(t) for t in texts],
                                 [evaluator.prompt.label_text(j) for j in range(len(names))], normalisation)
    _assert_close(scores.label_scores, expected)
    assert scores.predictions == [max(range(len(r)), key=r.__getitem__) for r in expected]
    assert scores.correct == [p == g for p, g in zip(scores.predictions, gold)]
    assert scores.accuracy == pytest.approx(sum(scores.correct) / 11)


def test_scores_come_back_in_the_order_of_the_indices_asked(llama):
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(9)
    evaluator = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS)
    forward = evaluator.score(llama.model, list(range(9)), "cpu")
    backward = evaluator.score(llama.model, list(range(8, -1, -1)), "cpu")
    assert backward.example_ids == list(range(8, -1, -1))
    _assert_close(backward.label_scores, forward.label_scores[::-1])


def test_labels_that_tokenise_alike_are_rejected_by_name(llama):
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    with pytest.raises(ProbeError, match="'zebra' and 'giraffe'"):
        label_likelihood_evaluator(llama.tokenizer, ["good day"] * 2, [0, 1], ["zebra", "giraffe"], SETTINGS)


def test_training_rows_target_only_the_label_tokens(llama):
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(6, ("very good", "bad"))
    evaluator = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS)
    data = evaluator.training_data()
    for ids, targets, label in zip(data.input_ids, data.labels, gold):
        answer = evaluator.candidate_ids[label]
        assert ids[-len(answer):] == answer and len(ids) == len(targets)
        assert [t for t in targets if t != -100] == answer and targets[-len(answer):] == answer


def test_texts_are_cut_to_the_token_cap(llama):
    from probes.decoder.label_likelihood import truncate_texts

    long_text = " ".join(WORDS * 3)
    cut = truncate_texts(llama.tokenizer, [long_text, "good day"], 10)
    assert len(llama.tokenizer(cut[0], add_special_tokens=False)["input_ids"]) == 10 and cut[1] == "good day"


@pytest.mark.parametrize("method", ["lora", "prompt_tuning"])
def test_trained_decoder_is_scored_by_label_likelihood(llama, method):
    from accelerate import Accelerator

    from probes.decoder.label_likelihood import label_likelihood_evaluator
    from probes.result import Phase, ProbeStatus
    from probes.run import TrialEnvironment, TrialSpec, run_trial
    from probes.settings import probe_settings

    texts, gold, names = _rows(40)
    evaluator = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS)
    spec = TrialSpec(f"t-{method}", method, Phase.CURVE, 0.01 if method == "lora" else 0.3, list(range(32)),
                     list(range(32, 40)), curve_eval_count=4)
    env = TrialEnvironment(base=llama, data=evaluator.training_data(), settings=probe_settings(), device="cpu", batch_size=8,
                           accelerator=Accelerator(cpu=True), evaluator=evaluator)
    trial = run_trial(spec, env, 20)
    assert trial.status == ProbeStatus.COMPLETE, trial.message
    assert [(p.step, p.n_eval_examples) for p in trial.curve] == [(10, 4), (20, 8)]  # grid points on a subset, last on all
    assert evaluator.last.example_ids == list(range(32, 40))
    assert trial.final_metric == pytest.approx(evaluator.last.accuracy, abs=1e-5)
    assert trial.curve[-1].per_example() == [1.0 if ok else 0.0 for ok in evaluator.last.correct]
    assert math.isfinite(trial.curve[-1].train_loss) and trial.trainable_params > 0


def test_prompt_tuned_model_scores_batched_as_one_by_one(llama):
    from peft import PromptTuningConfig, TaskType, get_peft_model

    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(7, ("very good", "bad"))
    model = get_peft_model(llama.fresh_copy(), PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=3))
    batched = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS.model_copy(update={"score_batch_size": 7}))
    single = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS.model_copy(update={"score_batch_size": 1}))
    # peft puts the virtual tokens before the left padding, so padding shifts their RoPE distance to the text a
    # little (peft ignores position ids under prompt learning): close, not equal
    _assert_close(batched.score(model, list(range(7)), "cpu").label_scores,
                  single.score(model, list(range(7)), "cpu").label_scores, tolerance=2e-3)


@pytest.mark.parametrize("method", ["none", "prompt_tuning", "lora"])
def test_tail_logits_give_the_models_own_training_loss(llama, method):
    """Training on label words computes logits only at the last positions: the loss must equal the full one."""
    import torch
    from peft import LoraConfig, PromptTuningConfig, TaskType, get_peft_model

    from probes.batches import collate, training_loss
    from probes.decoder.label_likelihood import label_likelihood_evaluator

    texts, gold, names = _rows(12, ("very good", "bad"))
    data = label_likelihood_evaluator(llama.tokenizer, texts, gold, names, SETTINGS).training_data()
    assert data.target_tail == 3  # "very good" is two tokens, plus the position that predicts the first
    model = llama.fresh_copy()
    if method == "prompt_tuning":
        model = get_peft_model(model, PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4))
    elif method == "lora":
        model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, target_modules="all-linear", init_lora_weights=False))
    batch = collate(data, list(range(12)), "cpu")
    model.eval()
    with torch.no_grad():
        assert float(training_loss(model, batch, data)) == pytest.approx(float(model(**batch).loss), rel=1e-5)
