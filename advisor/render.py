"""The report as Markdown, from a Jinja2 template (advisor/templates/); the JSON is the report itself."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Optional

from advisor.questionnaire import option_label
from advisor.report import AdvisorReport


def _g(value: float) -> str:
    return f"{value:g}"


def _f3(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


FILTERS = {
    "pct": lambda value: f"{value:.0%}",
    "pct1": lambda value: f"{value * 100:.1f} points",
    "signed3": lambda value: f"{value:+.3f}",
    "thousands": lambda value: f"{value:,}",
    "g": _g,
    "g3": lambda value: f"{value:.3g}",
    "f3": _f3,
    "tojson_pretty": lambda value: json.dumps(value, indent=2),
    "option": lambda value, field: option_label(field, value),  # an answer's human label (advisor/questionnaire.py)
}


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2  # lazy: only when a Markdown report is asked for

    environment = jinja2.Environment(loader=jinja2.PackageLoader("advisor", "templates"), autoescape=False,
                                     keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    environment.filters.update(FILTERS)
    return environment


def render_markdown(report: AdvisorReport) -> str:
    """Render the whole report (recommendation, ranking, reasons, conflicts, probe evidence, sources) as Markdown."""
    template = _environment().get_template("report.md.j2")
    return template.render(report=report, rec=report.recommendation, s=report.situation)
