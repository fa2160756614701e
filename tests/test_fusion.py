"""Evidence fusion on synthetic learning curves of known form."""
import numpy as np

from advisor import advise
from advisor.fusion import fuse_probe_results
from advisor.knowledge import default_knowledge

from factories import make_situation, make_suite

KB = default_knowledge()


def curve(c, a, b):
    return lambda n: c - a * n ** (-b)


def sampled_suite(truths, sizes, n_eval, rng):
    points = {}
    for method, truth in truths.items():
        points[method] = {n: rng.binomial(n_eval, truth(n)) / n_eval for n in sizes}
    return make_suite(points, n_eval=n_eval)


def test_clear_winner_is_found_and_outweighs_rules():
    # LoRA clearly ahead at every size: measured evidence must move the recommendation even against rules.
    suite = make_suite({"prompt_tuning": {1000: 0.55, 2000: 0.58, 4000: 0.60},
                        "lora": {1000: 0.78, 2000: 0.83, 4000: 0.86}}, n_eval=1000)
    evidence = fuse_probe_results(suite, 5000, KB, n_bootstrap=200)
    assert evidence.leader == "lora" and evidence.p_best["lora"] > 0.95 and evidence.conclusive
    assert evidence.contributions["lora"] > 0 > evidence.contributions["prompt_tuning"]
    assert evidence.contributions["qlora"] == evidence.contributions["lora"]  # siblings inherit the measurement
    situation = make_situation(model_params_b=11, model_architecture="encoder_decoder", n_tasks=10,
                               n_labeled_examples=5000)  # T5-XXL-like: rules lean to prompt tuning (Lester et al.)
    assert advise(situation).recommendation.method == "prompt_tuning"
    report = advise(situation, probe_results=suite)
    assert report.recommendation.method == "lora" and report.recommendation.evidence_basis == "rules+probes"


def test_crossover_of_known_curves_is_located():
    # Prompt tuning starts higher but saturates low; LoRA overtakes. True crossing point computed numerically.
    pt, lora = curve(0.70, 0.5, 0.5), curve(0.90, 3.0, 0.5)
    grid = np.arange(10, 100000)
    truth = grid[np.argmax(np.array([lora(n) - pt(n) for n in grid]) > 0)]
    suite = make_suite({"prompt_tuning": {n: pt(n) for n in (100, 200, 400, 800)},
                        "lora": {n: lora(n) for n in (100, 200, 400, 800)}}, n_eval=5000)
    evidence = fuse_probe_results(suite, 800, KB, n_bootstrap=200)
    cross = evidence.crossovers[0]
    assert cross.leader_small == "prompt_tuning" and cross.leader_large == "lora"
    assert cross.n_examples_low <= truth <= cross.n_examples_high
    assert abs(np.log(cross.n_examples_median / truth)) < np.log(1.5)


def test_intervals_cover_the_truth_at_roughly_their_stated_rate():
    rng = np.random.default_rng(1)
    truth = curve(0.85, 2.0, 0.5)
    sizes, user_n, n_eval = (250, 500, 1000), 1500, 400
    covered = 0
    repeats = 200
    for _ in range(repeats):
        suite = sampled_suite({"lora": truth}, sizes, n_eval, rng)
        fit = fuse_probe_results(suite, user_n, KB, n_bootstrap=200).fits[0]
        covered += fit.at_user_size.low <= truth(user_n) <= fit.at_user_size.high
    assert 0.7 <= covered / repeats <= 0.9, covered  # stated: 80%


def test_overlapping_methods_are_inconclusive_and_say_why():
    suite = make_suite({"prompt_tuning": {250: 0.70, 500: 0.72, 1000: 0.74},
                        "lora": {250: 0.70, 500: 0.73, 1000: 0.74}}, n_eval=200)
    evidence = fuse_probe_results(suite, 1000, KB, n_bootstrap=200)
    assert not evidence.conclusive and any("bootstrap" in r for r in evidence.inconclusive_reasons)
    report = advise(make_situation(n_labeled_examples=1000), probe_results=suite)
    assert any("inconclusive" in c for c in report.recommendation.caveats)


def test_failed_method_is_reported_not_fatal():
    from probes.result import ProbeStatus

    from factories import make_trial

    suite = make_suite({"lora": {250: 0.7, 500: 0.75, 1000: 0.8}})
    broken = make_trial("prompt_tuning", 1000, [], status=ProbeStatus.OUT_OF_MEMORY, message="CUDA out of memory")
    suite = suite.model_copy(update={"trials": [*suite.trials, broken]})
    evidence = fuse_probe_results(suite, 1000, KB, n_bootstrap=50)
    failed = next(f for f in evidence.fits if f.method == "prompt_tuning")
    assert failed.failed_trials and "out_of_memory" in failed.failed_trials[0]
    assert not evidence.conclusive
