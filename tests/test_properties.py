"""Hypothesis properties: total, deterministic, round-trips, and more memory never hurts feasibility."""
from hypothesis import given
from hypothesis import strategies as st

from knowledge import Method
from advisor import AdvisorReport, Situation, advise
from advisor.situation import ChangeCadence, Level, ModelAccess, Priority, TaskType, UpdateFrequency


def situations():
    return st.builds(
        Situation,
        task_type=st.sampled_from(list(TaskType)),
        n_labeled_examples=st.integers(0, 2_000_000),
        model_params_b=st.floats(0.01, 500, allow_nan=False),
        model_access=st.sampled_from(list(ModelAccess)),
        gpu_memory_gb=st.sampled_from([0, 8, 12, 16, 24, 40, 48, 80, 141]),
        n_gpus=st.integers(1, 16),
        n_tasks=st.integers(1, 200),
        seq_len_tokens=st.integers(16, 8192),
        strict_consistency=st.booleans(),
        forgetting_sensitivity=st.sampled_from(list(Level)),
        latency_sensitive=st.booleans(),
        requirements_change=st.sampled_from(list(ChangeCadence)),
        base_model_updates=st.sampled_from(list(UpdateFrequency)),
        data_on_premises_only=st.booleans(),
        needs_domain_knowledge=st.booleans(),
        compute_budget=st.sampled_from(list(Level)),
        deadline_days=st.one_of(st.none(), st.floats(0, 365, allow_nan=False)),
        interpretability_required=st.booleans(),
        priority=st.sampled_from(list(Priority)),
    )


@given(situations())
def test_any_valid_situation_gives_a_deterministic_round_tripping_report(situation):
    first, second = advise(situation), advise(situation)
    assert first.recommendation == second.recommendation
    assert AdvisorReport.model_validate_json(first.model_dump_json()) == first
    assert 0 <= first.recommendation.confidence <= 1
    assert first.recommendation.ranked[0].feasible, first.recommendation.ranked[0]
    assert {m.method for m in first.recommendation.ranked} == {m.value for m in Method}


@given(situations(), st.sampled_from([8, 16, 24, 48, 80, 141, 500]))
def test_more_gpu_memory_never_makes_a_feasible_method_infeasible(situation, extra_gb):
    before = {m.method: m.feasible for m in advise(situation).recommendation.ranked}
    bigger = situation.model_copy(update={"gpu_memory_gb": situation.gpu_memory_gb + extra_gb})
    after = {m.method: m.feasible for m in advise(bigger).recommendation.ranked}
    assert all(after[m] for m, ok in before.items() if ok)
