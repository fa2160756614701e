"""Tuning Advisor: which adaptation method to use, why, and with what evidence.

``import advisor`` is light (no torch); probes load only when asked for.
"""
from knowledge.provenance import advisor_version as _advisor_version

__version__ = _advisor_version()

from advisor.api import advise, to_markdown  # noqa: E402
from advisor.errors import AdvisorError, KnowledgeBaseError, ProbeError, SituationError  # noqa: E402
from advisor.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from advisor.report import REPORT_SCHEMA_VERSION, AdvisorReport  # noqa: E402
from advisor.situation import Situation, load_situation, make_situation  # noqa: E402

__all__ = [
    "advise", "to_markdown", "Situation", "AdvisorReport", "make_situation", "load_situation", "load_knowledge",
    "KnowledgeBase", "AdvisorError", "SituationError", "KnowledgeBaseError", "ProbeError", "REPORT_SCHEMA_VERSION",
]
