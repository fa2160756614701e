"""Situations drawn from published results: the advice must match what the evidence supports.

Each scenario's acceptable answers cite the published result they come from. Where a paper compared
methods we do not offer, or two methods tied within noise, every method the result supports is acceptable.
"""
import pytest

from advisor import advise
from advisor.api import to_markdown
from advisor.situation import ModelArchitecture, ModelAccess

from factories import make_situation

LORA_FAMILY = {"lora", "rslora", "dora"}

SCENARIOS = [
    # (description, situation overrides, acceptable methods)
    # Only the prompt can change without weights or a tuning endpoint (definitional; vendor guides).
    ("API-only model can only be prompted", dict(model_access="api_only", n_labeled_examples=300), {"few_shot"}),
    ("no labels at all: zero-shot", dict(model_access="api_only", n_labeled_examples=0), {"zero_shot"}),
    # Hu et al. 2021, Table 16: GPT-3 175B, MNLI-100: LoRA 63.8 > fine-tune 60.2 > prefix-layer 48.3 > prefix-embed 37.6.
    ("GPT-3-sized open model, MNLI with 100 examples: LoRA (Hu et al. Table 16)",
     dict(model_params_b=175, n_labeled_examples=100, gpu_memory_gb=80, n_gpus=16), LORA_FAMILY),
    # Same table, MNLI-1k: LoRA 85.6 vs prefix-embed 75.2; full fine-tuning (85.8) does not fit 24 GB at 7B.
    ("7B, 400 examples, 24 GB: LoRA beats soft prompts at low data (Hu et al. MNLI-100/1k)",
     dict(n_labeled_examples=400, gpu_memory_gb=24), LORA_FAMILY),
    # Hu et al. 2021, Table 4: GPT-3 175B on full MNLI, LoRA 91.7 vs full fine-tuning 89.5, prefix-embed 88.6.
    ("GPT-3-sized decoder, full MNLI (393k): LoRA (Hu et al. Table 4)",
     dict(model_params_b=175, n_labeled_examples=393000, gpu_memory_gb=80, n_gpus=64), LORA_FAMILY),
    # Lester et al. 2021, Fig. 1 / Section 3.1: T5-XXL (11B, encoder-decoder) prompt tuning matches multi-task model
    # tuning on SuperGLUE; many tasks share one frozen model (mixed-task batches). LoRA is equally defensible.
    ("T5-XXL 11B, SuperGLUE-style classification, many tasks: prompt tuning (Lester et al.)",
     dict(model_params_b=11, model_architecture="encoder_decoder", n_labeled_examples=5000, n_tasks=10, gpu_memory_gb=80),
     {"prompt_tuning"}),
    # The same model named by id: the architecture comes from the name (knowledge/architectures.yaml).
    ("T5-XXL named by its id, one task: prompt tuning or LoRA (Lester et al. Fig. 1)",
     dict(model_params_b=11, model_name="google/t5-xxl-lm-adapt", n_labeled_examples=5000, gpu_memory_gb=80),
     {"prompt_tuning"} | LORA_FAMILY),
    # Hu et al. 2021, Tables 4 and 16: on a decoder (GPT-3) prefix-embedding trailed LoRA at every MNLI size,
    # so the T5 result does not transfer to a decoder of the same size.
    ("11B decoder, many tasks: not soft prompts (Hu et al. GPT-3 results)",
     dict(model_params_b=11, n_labeled_examples=5000, n_tasks=10, gpu_memory_gb=80), LORA_FAMILY | {"qlora"}),
    # S-LoRA (Sheng et al. 2023, abstract): thousands of LoRA adapters served from one GPU; Punica: 12x throughput.
    ("7B, 1,000 tasks on one base: LoRA adapters, not model copies (S-LoRA, Punica)",
     dict(n_tasks=1000, n_labeled_examples=5000, gpu_memory_gb=80), LORA_FAMILY | {"prompt_tuning"}),
    # Dettmers et al. 2023: a 65B model fine-tunes on one 48 GB GPU only with 4-bit QLoRA (>780 GB in 16 bit).
    ("65B on one 48 GB GPU: only QLoRA fits (Dettmers et al.)",
     dict(model_params_b=65, n_labeled_examples=10000, task_type="instruction_following", gpu_memory_gb=48), {"qlora"}),
    # Biderman et al. 2024, Section 4.1 / Fig. 2B: code instruction tuning (Magicoder-Evol-Instruct-110K, Llama-2-7B):
    # full fine-tuning peaks at HumanEval 0.50 and LoRA r=256 comes close; r=16 trails. High-rank LoRA or full FT.
    ("Llama-2-7B code instruction tuning, 100k pairs, 8 x 80 GB: high-rank LoRA or full FT (Biderman et al.)",
     dict(task_type="code", n_labeled_examples=100000, gpu_memory_gb=80, n_gpus=8), {"rslora", "lora", "full_finetune"}),
    # Biderman et al. 2024, Fig. 2A: continued pretraining on StarCoder-Python (billions of tokens): LoRA trails
    # full fine-tuning at every token budget; "LoRA for IFT, not CPT" (Section 4.6).
    ("Llama-2-7B continued pretraining on code documents: full fine-tuning (Biderman et al.)",
     dict(task_type="code", n_labeled_examples=1_000_000, continued_pretraining=True, gpu_memory_gb=80, n_gpus=8),
     {"full_finetune"}),
    # P-tuning v2 (abstract): shallow prompt tuning "cannot handle hard sequence labeling tasks"; full FT or deep prompts.
    ("NER on a 350M model: no shallow soft prompts (P-tuning v2)",
     dict(task_type="sequence_labeling", model_params_b=0.35, n_labeled_examples=5000, gpu_memory_gb=16),
     {"full_finetune", "lora", "prefix_tuning"}),
    # OpenAI fine-tuning guide: minimum 10 examples, improvements from 50-100; for an open 7B decoder, in-context
    # learning at this size works (Brown et al. 2020) and matches few-shot fine-tuning (Mosbach et al. 2023).
    ("20 examples on an open 7B decoder: show them in the prompt (Brown et al.; Mosbach et al.)",
     dict(n_labeled_examples=20), {"few_shot"}),
    ("20 examples for a vendor fine-tuning endpoint: prompt first (OpenAI fine-tuning guide)",
     dict(model_access="api_finetune", n_labeled_examples=20), {"few_shot"}),
    ("vendor fine-tuning endpoint with 5k examples", dict(model_access="api_finetune", n_labeled_examples=5000),
     {"full_finetune"}),
    # Mosbach et al. 2023 (OPT up to 30B, 16 examples): in-context learning and few-shot fine-tuning generalise alike.
    ("OPT-30B with 16 examples: in-context learning (Mosbach et al.; Brown et al.)",
     dict(model_params_b=30, n_labeled_examples=16, gpu_memory_gb=80, n_gpus=8), {"few_shot"} | LORA_FAMILY),
    # Hu et al. 2021, Table 2: RoBERTa-base GLUE FT 86.4 vs LoRA 87.2 (tie within seeds); Houlsby et al. 2019:
    # adapters within 0.4% of full FT on BERT-large. Full FT is cheap at this size.
    ("BERT-base sentiment, 10k examples: full fine-tuning or LoRA (Houlsby et al.; Hu et al. Table 2)",
     dict(model_params_b=0.11, model_architecture="encoder", n_labeled_examples=10000, gpu_memory_gb=16),
     {"full_finetune", "lora"}),
    # Issue 15 / He et al. 2022, Houlsby et al. 2019: on a small encoder with a GPU, full fine-tuning is the default.
    ("small encoder, 2k examples, a GPU: full fine-tuning (He et al. 2022; Houlsby et al. 2019)",
     dict(model_params_b=0.0227, model_architecture="encoder", n_labeled_examples=2000, gpu_memory_gb=16),
     {"full_finetune"}),
    # Brown et al. 2020: in-context learning is a decoder-LM ability growing with scale; LM-BFF (Gao et al. 2021) and
    # PET (Schick and Schuetze 2021): small encoders learn from 16-32 examples by prompt-based fine-tuning.
    ("22.7M encoder with 32 examples: fine-tune, never few-shot (Brown et al.; LM-BFF; PET)",
     dict(model_params_b=0.0227, model_architecture="encoder", n_labeled_examples=32, gpu_memory_gb=16),
     {"full_finetune", "lora", "linear_probe"}),
    ("22.7M model of unstated architecture with 32 examples: not few-shot either (Brown et al.)",
     dict(model_params_b=0.0227, n_labeled_examples=32, gpu_memory_gb=16), {"full_finetune", "lora", "linear_probe"}),
    # PET: ALBERT-xxlarge-v2 (223M) with 32 examples per SuperGLUE task, prompt-based full fine-tuning.
    ("ALBERT named by id with 32 examples: prompt-based fine-tuning (PET)",
     dict(model_params_b=0.223, model_name="albert-xxlarge-v2", n_labeled_examples=32, gpu_memory_gb=24),
     {"full_finetune"}),
    # T-Few (Liu et al. 2022): T0-11B (encoder-decoder) + (IA)3 with tens of examples beat GPT-3 in-context learning.
    ("T0-11B with 50 examples per task: (IA)3 / T-Few (Liu et al. 2022)",
     dict(model_params_b=11, model_architecture="encoder_decoder", n_labeled_examples=50, gpu_memory_gb=80),
     {"ia3", "lora"}),
    # Li and Liang 2021 (abstract): prefix tuning outperforms fine-tuning in low-data settings (GPT-2, BART-large).
    ("GPT-2 Medium table-to-text with 100 examples: prefix tuning (Li and Liang)",
     dict(model_params_b=0.345, task_type="generation", n_labeled_examples=100, gpu_memory_gb=24),
     {"prefix_tuning", "lora"}),
    # Zhang et al. 2024: full-model tuning for million-scale data (1B-16B, translation).
    ("8B translation model with 3M pairs on 8 GPUs: full fine-tuning (Zhang et al. 2024)",
     dict(model_params_b=8, task_type="translation", n_labeled_examples=3_000_000, gpu_memory_gb=80, n_gpus=8),
     {"full_finetune"}),
    # Ovadia et al. 2024 (abstract): RAG consistently outperforms unsupervised fine-tuning on the documents.
    ("7B, inject facts from 5k documents: retrieval + prompting, not continued pretraining (Ovadia et al.)",
     dict(needs_domain_knowledge=True, continued_pretraining=True, n_labeled_examples=5000, gpu_memory_gb=80, n_gpus=8),
     {"few_shot", "zero_shot"}),
    ("many tasks sharing a new domain: hybrid or LoRA",
     dict(n_tasks=20, needs_domain_knowledge=True, n_labeled_examples=3000, model_params_b=7), {"hybrid"} | LORA_FAMILY),
    ("no GPU and a 7B model: nothing can be trained here", dict(gpu_memory_gb=0, n_labeled_examples=2000), {"few_shot", "zero_shot"}),
]


@pytest.mark.parametrize("description,overrides,acceptable", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_published_scenarios(description, overrides, acceptable):
    report = advise(make_situation(**overrides))
    assert report.recommendation.method in acceptable, to_markdown(report)


def test_an_encoder_is_told_why_few_shot_is_not_a_candidate():
    report = advise(make_situation(model_params_b=0.0227, model_architecture="encoder", n_labeled_examples=32, gpu_memory_gb=16))
    few_shot = next(m for m in report.recommendation.ranked if m.method == "few_shot")
    assert not few_shot.feasible
    assert any("in-context" in reason for reason in few_shot.infeasible_reasons), few_shot.infeasible_reasons


@pytest.mark.parametrize("architecture", list(ModelArchitecture))
@pytest.mark.parametrize("access", list(ModelAccess))
@pytest.mark.parametrize("n_examples", [0, 1, 32])
def test_some_method_stays_feasible_whatever_the_model_can_do(architecture, access, n_examples):
    report = advise(make_situation(model_params_b=0.0227, model_architecture=architecture.value, model_access=access.value,
                                   n_labeled_examples=n_examples, gpu_memory_gb=16))
    assert report.recommendation.ranked[0].feasible


def test_code_instruction_tuning_raises_the_rank_instead_of_dropping_lora():
    report = advise(make_situation(task_type="code", n_labeled_examples=100000, gpu_memory_gb=80, n_gpus=8))
    ranked = {m.method: m for m in report.recommendation.ranked}
    assert ranked["rslora"].rule_contributions.get("code-instruction-tuning-raise-lora-rank", 0) > 0
    assert "code-instruction-tuning-raise-lora-rank" not in ranked["lora"].rule_contributions
    assert any("rank" in caveat for caveat in report.recommendation.caveats)


def test_new_facts_come_with_a_retrieval_caveat():
    report = advise(make_situation(needs_domain_knowledge=True, n_labeled_examples=3000))
    assert any("retrieval" in caveat.lower() for caveat in report.recommendation.caveats)


def test_vendor_minimum_does_not_govern_open_weights():
    open_rules = advise(make_situation(n_labeled_examples=20)).recommendation.ranked[0].rule_contributions
    assert "vendor-too-few-examples-to-train" not in open_rules


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
