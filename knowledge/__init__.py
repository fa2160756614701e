"""Tuning Advisor knowledge base: the ground floor.

Data files (sources, methods, rules, costs, recipes, probe settings), their typed loader, the Method
enum and the shared error types. Imports only the standard library, pydantic and yaml.
"""
from pathlib import Path

from knowledge.errors import AdvisorError, KnowledgeBaseError, ProbeError, SituationError
from knowledge.method import Method, MethodFamily

KNOWLEDGE_DIR = Path(__file__).resolve().parent

__all__ = ["KNOWLEDGE_DIR", "Method", "MethodFamily", "AdvisorError", "SituationError", "KnowledgeBaseError", "ProbeError"]
