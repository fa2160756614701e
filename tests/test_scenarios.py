"""Situations drawn from published results: the advice must match what the evidence supports."""
import pytest

from advisor import advise
from advisor.api import to_markdown

from factories import make_situation

SCENARIOS = [
    # (description, situation overrides, acceptable methods)
    ("API-only model can only be prompted", dict(model_access="api_only", n_labeled_examples=300), {"few_shot"}),
    ("no labels at all: zero-shot", dict(model_access="api_only", n_labeled_examples=0), {"zero_shot"}),
    ("7B, 400 examples, 24 GB: LoRA beats soft prompts at low data (Hu et al. MNLI-100/1k)",
     dict(n_labeled_examples=400, gpu_memory_gb=24), {"lora"}),
    ("11B T5-XXL style, many tasks: prompt tuning matches fine-tuning (Lester et al.)",
     dict(model_params_b=11, n_labeled_examples=5000, n_tasks=10, gpu_memory_gb=80), {"prompt_tuning"}),
    ("65B on one 48 GB GPU: only QLoRA fits (Dettmers et al.)",
     dict(model_params_b=65, n_labeled_examples=10000, task_type="instruction_following", gpu_memory_gb=48), {"qlora"}),
    ("7B code with 100k examples and 8 x 80 GB: full fine-tuning (Biderman et al.)",
     dict(task_type="code", n_labeled_examples=100000, gpu_memory_gb=80, n_gpus=8), {"full_finetune"}),
    ("NER on a 350M model: no shallow soft prompts (P-tuning v2)",
     dict(task_type="sequence_labeling", model_params_b=0.35, n_labeled_examples=5000, gpu_memory_gb=16),
     {"full_finetune", "lora"}),
    ("20 examples: show them in the prompt (vendor guidance)", dict(n_labeled_examples=20), {"few_shot"}),
    ("vendor fine-tuning endpoint with 5k examples", dict(model_access="api_finetune", n_labeled_examples=5000),
     {"full_finetune"}),
    ("BERT-base sentiment, 10k examples: full fine-tuning or LoRA",
     dict(model_params_b=0.11, n_labeled_examples=10000, gpu_memory_gb=16), {"full_finetune", "lora"}),
    ("many tasks sharing a new domain: hybrid",
     dict(n_tasks=20, needs_domain_knowledge=True, n_labeled_examples=3000, model_params_b=7), {"hybrid", "lora"}),
    ("no GPU and a 7B model: nothing can be trained here", dict(gpu_memory_gb=0, n_labeled_examples=2000), {"few_shot", "zero_shot"}),
]


@pytest.mark.parametrize("description,overrides,acceptable", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_published_scenarios(description, overrides, acceptable):
    report = advise(make_situation(**overrides))
    assert report.recommendation.method in acceptable, to_markdown(report)


def test_nothing_trainable_fits_so_prompting_is_recommended():
    report = advise(make_situation(model_params_b=70, gpu_memory_gb=24, n_labeled_examples=5000))
    chosen = report.recommendation.ranked[0]
    assert chosen.method == report.recommendation.method and chosen.feasible
    assert chosen.method in {"few_shot", "zero_shot"}
    assert not any(m.feasible for m in report.recommendation.ranked if m.cost.trainable_params > 0)
    full = next(m for m in report.recommendation.ranked if m.method == "full_finetune")
    assert not full.feasible and "GiB" in full.infeasible_reasons[0]


def test_seed_and_paper_conflict_is_reported():
    report = advise(make_situation(n_labeled_examples=300))
    pairs = [set(c.rule_ids) for c in report.conflicts]
    assert {"seed-under-500-examples-prompt-tuning", "low-data-lora-beats-soft-prompts"} in pairs
    conflict = next(c for c in report.conflicts if "low-data-lora-beats-soft-prompts" in c.rule_ids)
    assert conflict.stronger_rule_id == "low-data-lora-beats-soft-prompts"


def test_counterfactual_names_a_data_threshold_that_really_flips_the_answer():
    situation = make_situation(n_labeled_examples=400, gpu_memory_gb=24)
    report = advise(situation)
    data_changes = [c for c in report.recommendation.counterfactuals if c.field == "n_labeled_examples"]
    assert data_changes
    for change in data_changes:
        flipped = advise(situation.model_copy(update={"n_labeled_examples": change.new_value}))
        assert flipped.recommendation.method == change.new_method != report.recommendation.method


def test_reasons_cite_sources_that_are_listed():
    report = advise(make_situation(n_labeled_examples=400))
    listed = {s.id for s in report.sources}
    assert report.recommendation.reasons
    for reason in report.recommendation.reasons:
        assert reason.source_ids and set(reason.source_ids) <= listed


def test_markdown_report_has_the_sections_a_reader_needs():
    text = to_markdown(advise(make_situation(n_labeled_examples=300)))
    for heading in ("## Ranked methods", "## Why", "## Where sources disagree", "## What would change the answer", "## Sources"):
        assert heading in text
