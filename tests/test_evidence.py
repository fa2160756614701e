"""Probe evidence: paired differences, predictions, the decision and its confidence, failures and proxies."""
import random

import pytest

from advisor import advise
from advisor.fusion import fuse_probe_results
from advisor.knowledge import default_knowledge
from advisor.measurements import measure
from advisor.paired import paired_difference
from probes.result import Phase, ProbeStatus

from factories import correct_vector, make_situation, make_suite, make_trial

KB = default_knowledge()
SMALL_DECODER = dict(model_params_b=0.135, model_architecture="decoder", gpu_memory_gb=24)


def test_paired_difference_matches_a_hand_count():
    # 10 examples: A right on 7, B on 5; they disagree on 4 (A-only on 3, B-only on 1).
    a = [True, True, True, True, True, True, True, False, False, False]
    b = [True, True, True, True, False, False, False, True, False, False]
    suite = make_suite({}, n_eval=10, extra_trials=[make_trial("lora", a), make_trial("prompt_tuning", b)])
    measured, _ = measure(suite)
    diff = paired_difference(measured["lora"], measured["prompt_tuning"])
    d = [ai - bi for ai, bi in zip(a, b)]
    mean = sum(d) / 10
    sd = (sum((x - mean) ** 2 for x in d) / 9) ** 0.5
    assert diff.difference == pytest.approx(0.2) and diff.n_pairs == 10 and diff.discordant_share == pytest.approx(0.4)
    assert diff.resolvable == pytest.approx(1.959964 * sd / 10 ** 0.5, abs=1e-4)
    assert diff.low == pytest.approx(0.2 - diff.resolvable, abs=1e-4) and not diff.resolved


def test_paired_interval_covers_the_true_difference_at_its_stated_rate():
    # Two correlated methods with a known true gap of 3 points: B errs where A errs, plus its own errors.
    rng = random.Random(0)
    hits = 0
    repeats = 300
    for r in range(repeats):
        a = [rng.random() < 0.80 for _ in range(400)]
        b = [ok and rng.random() > 0.0375 for ok in a]  # 0.80 * (1 - 0.0375) = 0.77
        suite = make_suite({}, n_eval=400, extra_trials=[make_trial("lora", a), make_trial("prompt_tuning", b)])
        measured, _ = measure(suite)
        diff = paired_difference(measured["lora"], measured["prompt_tuning"])
        hits += diff.low <= 0.03 <= diff.high
    assert 0.90 <= hits / repeats <= 0.99  # nominal 95%


def test_a_measured_baseline_that_wins_wins_the_recommendation():
    # The linear probe far ahead of every trained method on the target model: it must be able to win.
    suite = make_suite({"zero_shot": 0.40, "few_shot": 0.45, "linear_probe": 0.90, "prompt_tuning": 0.50, "lora": 0.55,
                        "full_finetune": 0.56}, n_eval=400, steps=960, n_train=400, probed_params_b=0.135)
    report = advise(make_situation(n_labeled_examples=500, **SMALL_DECODER), probe_results=suite)
    rec = report.recommendation
    assert rec.method == "linear_probe" and rec.evidence_basis == "rules+probes"
    assert "probability" in rec.confidence_meaning and rec.confidence > 0.5
    assert all(rec.confidence > m.p_within_tolerance for m in rec.ranked[1:] if m.p_within_tolerance is not None)
    top = rec.ranked[0]
    # its own precise measurement carries most of the weight; the rules' prior (anchored to the trained methods) a little
    assert report.probe_evidence.method("linear_probe").prediction.mean - 0.06 < top.expected_accuracy <= 0.91
    assert "measured on your data" in top.evidence and all(m.expected_accuracy < top.expected_accuracy for m in rec.ranked[1:]
                                                             if m.expected_accuracy is not None)


def test_the_confidence_calibration_widens_the_draws_but_leaves_the_expected_accuracies_and_the_pick():
    # decision_sd_scale is a temperature on the decision's draws (knowledge/scoring.yaml): a less certain
    # confidence, the same expected accuracies up to clipping at 1 (the precision weights keep the fitted sd), the same pick.
    suite = make_suite({"zero_shot": 0.5, "linear_probe": 0.7, "prompt_tuning": 0.6, "lora": 0.76, "full_finetune": 0.74},
                       n_eval=300, steps=960, n_train=300, probed_params_b=0.135)
    reports = {}
    for scale in (1.0, 3.0):
        kb = KB.model_copy(update={"scoring": KB.scoring.model_copy(update={"decision_sd_scale": scale})})
        reports[scale] = advise(make_situation(n_labeled_examples=400, **SMALL_DECODER), probe_results=suite, knowledge=kb)
    narrow, wide = reports[1.0].recommendation, reports[3.0].recommendation
    assert narrow.method == wide.method
    assert wide.confidence < narrow.confidence
    expected = {m.method: m.expected_accuracy for m in narrow.ranked if m.expected_accuracy is not None}
    assert expected and all(m.expected_accuracy == pytest.approx(expected[m.method], abs=0.01)
                            for m in wide.ranked if m.method in expected)


def test_few_shot_can_win_for_a_decoder():
    suite = make_suite({"zero_shot": 0.60, "few_shot": 0.93, "linear_probe": 0.70, "prompt_tuning": 0.62, "lora": 0.66},
                       n_eval=400, steps=960, n_train=400, probed_params_b=0.135)
    report = advise(make_situation(n_labeled_examples=500, **SMALL_DECODER), probe_results=suite)
    assert report.recommendation.method == "few_shot"


def test_failed_method_is_reported_as_not_measured_with_its_reason():
    oom = make_trial("lora", [], status=ProbeStatus.OUT_OF_MEMORY, message="OutOfMemoryError: CUDA out of memory")
    suite = make_suite({"zero_shot": 0.5, "prompt_tuning": 0.7}, n_eval=300, probed_params_b=0.135, extra_trials=[oom])
    evidence = fuse_probe_results(suite, 2000, KB, target_params_b=0.135, target_architecture="decoder")
    lora = evidence.method("lora")
    assert lora.measured is None and "out_of_memory" in lora.not_measured_reason
    assert "lora" not in evidence.measured_methods and set(evidence.measured_methods) == {"zero_shot", "prompt_tuning"}
    report = advise(make_situation(n_labeled_examples=2000, **SMALL_DECODER), probe_results=suite)
    text = " ".join(report.recommendation.caveats)
    assert report.probe_evidence.method("lora").not_measured_reason
    assert report.recommendation.ranked[0].method != "lora" or "not measured" in report.recommendation.ranked[0].evidence


def test_too_short_a_probe_gives_no_prediction_and_says_after_k_steps():
    suite = make_suite({"zero_shot": 0.5, "prompt_tuning": 0.52, "lora": 0.6}, n_eval=300, steps=10, n_train=20000,
                       probed_params_b=0.135)
    evidence = fuse_probe_results(suite, 25000, KB, target_params_b=0.135, target_architecture="decoder")
    pt = evidence.method("prompt_tuning")
    assert pt.prediction is None and "epochs" in pt.no_prediction_reason
    assert pt.what_was_measured.startswith("after 10 steps")
    assert not evidence.conclusive and any("lets every method see all your training rows" in s for s in evidence.settle)


def test_close_methods_are_inconclusive_and_the_settling_evaluation_size_is_given():
    suite = make_suite({"zero_shot": 0.5, "lora": 0.80, "full_finetune": 0.805}, n_eval=200, steps=960, n_train=300,
                       probed_params_b=0.135)
    evidence = fuse_probe_results(suite, 400, KB, target_params_b=0.135, target_architecture="decoder")
    assert not evidence.conclusive
    gap = next(c for c in evidence.comparisons if {c.method, c.versus} == {"lora", "full_finetune"})
    assert not gap.resolved and gap.n_pairs == 200


def test_every_method_has_its_gain_over_zero_shot_and_its_gap_to_the_leader_the_leader_included():
    # The leader's own gain over no training is what a user asks first; it was once stored only as zero-shot minus
    # the leader, and the "above zero-shot" line left the leader out.
    suite = make_suite({"zero_shot": 0.5, "prompt_tuning": 0.6, "lora": 0.85}, n_eval=300, steps=960, n_train=300,
                       probed_params_b=0.135)
    evidence = fuse_probe_results(suite, 400, KB, target_params_b=0.135, target_architecture="decoder")
    leader = evidence.leader
    assert leader == "lora"
    for method in ("prompt_tuning", "lora"):
        gain = evidence.gap(method, "zero_shot")
        assert gain.low > 0 and gain.difference == pytest.approx(evidence.method(method).measured - 0.5, abs=0.02)
    back = evidence.gap("zero_shot", "lora")
    forward = evidence.gap("lora", "zero_shot")
    assert (back.difference, back.low, back.high) == (-forward.difference, -forward.high, -forward.low)
    assert back.what.startswith("zero_shot") and forward.what.startswith("lora")
    assert evidence.gap("prompt_tuning", leader).high < 0
    pairs = [frozenset((c.method, c.versus)) for c in evidence.comparisons]
    assert len(pairs) == len(set(pairs)) == 3  # each pair once


def test_probe_on_a_much_smaller_model_is_proxy_evidence_and_keeps_the_situation():
    suite = make_suite({"zero_shot": 0.5, "prompt_tuning": 0.45, "lora": 0.85}, n_eval=300, steps=960, n_train=300,
                       probed_params_b=0.135)
    situation = make_situation(n_labeled_examples=400, model_params_b=70, gpu_memory_gb=80)
    report = advise(situation, probe_results=suite)
    assert report.situation == situation
    assert report.probe_evidence.proxy is not None and report.recommendation.evidence_basis == "rules+proxy probes"
    assert "not a measured probability" in report.recommendation.confidence_meaning
    lora = next(m for m in report.recommendation.ranked if m.method == "lora")
    pt = next(m for m in report.recommendation.ranked if m.method == "prompt_tuning")
    assert lora.probe_contribution > 0 > pt.probe_contribution  # measured gaps count, at the proxy weight


def test_kfold_measurements_pool_every_fold():
    trials = []
    for repeat in range(2):
        for fold in range(3):
            ids = list(range(fold, 30, 3))
            for method, acc in (("lora", 0.8), ("zero_shot", 0.5)):
                correct = correct_vector(acc, len(ids), fold + 10 * repeat)
                steps = None if method == "zero_shot" else 40
                trials.append(make_trial(method, correct, steps=steps, n_train=20, phase=Phase.FOLD if steps else Phase.BASELINE,
                                         fold=fold, repeat=repeat, eval_example_ids=ids, trial_id=f"{method}-{fold}-{repeat}"))
    suite = make_suite({}, n_eval=30, extra_trials=trials).model_copy(
        update={"evaluation": make_suite({}).evaluation.model_copy(update={"kind": "kfold", "n_eval_examples": 30})})
    measured, _ = measure(suite)
    assert len(measured["lora"].per_example) == 60 and measured["lora"].metric == pytest.approx(0.8)
    diff = paired_difference(measured["lora"], measured["zero_shot"])
    assert diff.n_pairs == 30  # repetitions of one example averaged: examples are the units


def test_rules_only_confidence_says_what_it_is():
    rec = advise(make_situation()).recommendation
    assert rec.evidence_basis == "rules" and "not a measured probability" in rec.confidence_meaning


def test_a_prediction_beyond_the_ground_truth_sizes_says_so_and_widens():
    from advisor.convergence import ProbeContext, predict_converged
    from advisor.measurements import Measured

    lora = Measured(method="lora", metric=0.7, per_example={}, n_train_examples=256, steps=256, batch_size=16,
                    learning_rate=2e-3, curve=[(128, 0.65), (256, 0.7)])
    context = ProbeContext(linear_probe=0.72, zero_shot=0.4, n_classes=3, n_eval=300)
    fitted = KB.convergence.model_copy(update={"fitted_target_sizes": [32, 64, 128, 256]})
    inside, _ = predict_converged(lora, 512, context, fitted)
    beyond, _ = predict_converged(lora, 8192, context, fitted)
    assert "extrapolated" not in inside.basis and "extrapolated" in beyond.basis and "up to 256" in beyond.basis
    assert beyond.sd > inside.sd


def test_the_line_above_zero_shot_says_when_a_method_answered_exactly_like_it():
    # An interval of "+0.0 to +0.0" reads like a bug; a method right on exactly the same examples says so.
    from advisor.view import _baseline_line

    same = correct_vector(0.5, 50, seed=3)
    suite = make_suite({"lora": 0.8}, n_eval=50, steps=960, n_train=150, extra_trials=[
        make_trial("zero_shot", same, steps=None, n_train=0, phase=Phase.BASELINE),
        make_trial("prompt_tuning", same, steps=960, n_train=150)])
    evidence = fuse_probe_results(suite, 200, KB)
    line = _baseline_line(evidence, KB)
    assert "right on exactly the same 50 examples" in line and "+0.0 to +0.0" not in line
    assert line.count("exactly the same") == 1  # LoRA keeps its interval
