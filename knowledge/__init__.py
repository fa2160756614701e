"""Tuning Advisor knowledge base: data files only (sources, methods, rules, numbers).

The loader and its validation live in ``advisor.knowledge``; this package exists so
an installed copy can find its data files.
"""
from pathlib import Path

KNOWLEDGE_DIR = Path(__file__).resolve().parent
