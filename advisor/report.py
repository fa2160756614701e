"""The report: a versioned, round-trippable pydantic model with provenance."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.fusion import ProbeEvidence
from advisor.recommend import Counterfactual, MethodScore
from advisor.rules import RuleOutcome
from advisor.situation import Situation
from knowledge.models import Source
from knowledge.provenance import advisor_version, package_versions

# Bump on any change to the JSON schema (tests/test_schema.py compares against schema/report.schema.json).
REPORT_SCHEMA_VERSION = "3.0.0"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Reason(BaseModel):
    model_config = _FROZEN
    rule_id: str
    stance: str = Field(description="'supports' or 'opposes' the recommended method.")
    score_effect: float
    grade: str
    source_ids: list[str]
    text: str


class Conflict(BaseModel):
    model_config = _FROZEN
    rule_ids: tuple[str, str]
    stronger_rule_id: str = Field(description="The rule whose sources carry the higher evidence grade.")
    text: str


class CounterfactualText(Counterfactual):
    text: str


class Recommendation(BaseModel):
    model_config = _FROZEN
    method: str
    method_name: str
    confidence: float = Field(ge=0, le=1, description="With probes on your model: the probability that the pick is within "
                              "scoring.decision_tolerance of the best method after full-length training (checked against "
                              "outcomes by benchmarks/advice_quality.py). Rules only or proxy probes: the softmax share of the "
                              "pick and its evidence siblings (e.g. LoRA and its variants), not a measured probability.")
    confidence_meaning: str = Field(default="", description="What the confidence number is, in words.")
    evidence_basis: str = Field(description="'rules', 'rules+probes' (measured on your model) or 'rules+proxy probes'.")
    ranked: list[MethodScore]
    reasons: list[Reason]
    counterfactuals: list[CounterfactualText]
    caveats: list[str]
    config: dict[str, Any] = Field(description="Ready-to-use starting configuration for the recommended method.")


class Provenance(BaseModel):
    model_config = _FROZEN
    advisor_version: str
    knowledge_hash: str
    python_version: str
    package_versions: dict[str, str]
    device: Optional[str] = None


class AdvisorReport(BaseModel):
    model_config = _FROZEN
    schema_version: str = REPORT_SCHEMA_VERSION
    situation: Situation
    recommendation: Recommendation
    conflicts: list[Conflict]
    rule_trace: list[RuleOutcome]
    sources: list[Source]
    probe_evidence: Optional[ProbeEvidence] = None
    provenance: Provenance


def make_provenance(knowledge_hash: str, device: Optional[str] = None) -> Provenance:
    versions = package_versions()
    return Provenance(advisor_version=advisor_version(), knowledge_hash=knowledge_hash,
                      python_version=versions["python"],
                      package_versions={k: v for k, v in versions.items() if k not in ("python", "tuning-advisor")}, device=device)
