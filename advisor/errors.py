"""Error types, re-exported from the ground floor (knowledge.errors) for advisor users."""
from knowledge.errors import AdvisorError, KnowledgeBaseError, ProbeError, SituationError

__all__ = ["AdvisorError", "SituationError", "KnowledgeBaseError", "ProbeError"]
