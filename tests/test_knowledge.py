"""Contract test over every rule (semgrep-style cases) and load-time validation of knowledge files."""
import shutil
from pathlib import Path

import pytest
import yaml

from advisor import KnowledgeBaseError, Situation, load_knowledge
from advisor.knowledge import default_knowledge_dir
from advisor.rules import evaluate_rule, situation_values

KB = load_knowledge()
CASES = [(rule.id, kind, i, case) for rule in KB.rules for kind in ("fires", "does_not_fire")
         for i, case in enumerate(getattr(rule.cases, kind))]


@pytest.mark.parametrize("rule_id,kind,index,case", CASES, ids=[f"{r}-{k}-{i}" for r, k, i, _ in CASES])
def test_rule_case(rule_id, kind, index, case):
    situation = Situation(**{**KB.case_base, **case})
    outcome = evaluate_rule(KB.rule(rule_id), situation_values(situation), KB)
    assert outcome.fired is (kind == "fires"), [t.model_dump() for t in outcome.trace]


def test_every_rule_cites_resolvable_sources_and_known_methods():
    for rule in KB.rules:
        assert all(s in KB.sources for s in rule.sources)
        assert set(rule.effect.favor) | set(rule.effect.infeasible) <= set(KB.methods)


def test_contradictions_are_symmetric():
    for rule in KB.rules:
        for other in rule.contradicts:
            assert rule.id in KB.rule(other).contradicted_by, (rule.id, other)


def test_seed_thresholds_are_encoded_with_rule_of_thumb_grade():
    assert KB.rule_grade(KB.rule("seed-under-500-examples-prompt-tuning")) == "rule-of-thumb"
    assert KB.rule_grade(KB.rule("low-data-lora-beats-soft-prompts")) == "peer-reviewed"


def _copy_kb(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def _edit_rule(root: Path, file: str, rule_id: str, edit) -> None:
    path = root / "rules" / file
    doc = yaml.safe_load(path.read_text())
    for rule in doc["rules"]:
        if rule["id"] == rule_id:
            edit(rule)
    path.write_text(yaml.safe_dump(doc))


def test_unknown_field_fails_at_load_with_file_rule_and_suggestion(tmp_path):
    root = _copy_kb(tmp_path)
    _edit_rule(root, "scale.yaml", "scale-prompt-tuning-matches-finetune",
               lambda r: r["when"]["all"][0].update(field="model_param_b"))
    with pytest.raises(KnowledgeBaseError) as error:
        load_knowledge(root)
    message = str(error.value)
    assert "scale.yaml" in message and "scale-prompt-tuning-matches-finetune" in message
    assert "'model_param_b'" in message and "did you mean 'model_params_b'" in message


def test_unknown_source_and_bad_enum_value_fail_at_load(tmp_path):
    root = _copy_kb(tmp_path)
    _edit_rule(root, "serving.yaml", "many-tasks-favor-modular-adaptation", lambda r: r.update(sources=["lester2012"]))
    with pytest.raises(KnowledgeBaseError, match="unknown source 'lester2012'; did you mean 'lester2021'"):
        load_knowledge(root)
    root2 = _copy_kb(tmp_path / "b")
    _edit_rule(root2, "access.yaml", "api-only-can-only-prompt", lambda r: r["when"]["all"][0].update(value="api-only"))
    with pytest.raises(KnowledgeBaseError, match="must be one of"):
        load_knowledge(root2)


def test_unknown_operator_and_extra_keys_fail_at_load(tmp_path):
    root = _copy_kb(tmp_path)
    _edit_rule(root, "task.yaml", "sequence-labeling-shallow-prompts-weak", lambda r: r.update(rationle="typo"))
    with pytest.raises(KnowledgeBaseError, match="task.yaml rule 'sequence-labeling-shallow-prompts-weak'"):
        load_knowledge(root)
