"""The committed JSON Schema must match the code; changing it needs a schema-version bump."""
import json
from pathlib import Path

from advisor import REPORT_SCHEMA_VERSION, AdvisorReport

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "report.schema.json"


def current_schema() -> dict:
    return {"schema_version": REPORT_SCHEMA_VERSION, "schema": AdvisorReport.model_json_schema(mode="serialization")}


def test_committed_schema_matches_code():
    committed = json.loads(SCHEMA_PATH.read_text())
    if committed["schema"] != current_schema()["schema"]:
        assert committed["schema_version"] != REPORT_SCHEMA_VERSION, (
            "The report schema changed: bump REPORT_SCHEMA_VERSION in advisor/report.py and regenerate with "
            "`python -m advisor.schema`.")
        raise AssertionError("Schema version bumped but schema/report.schema.json not regenerated: run `python -m advisor.schema`.")
    assert committed["schema_version"] == REPORT_SCHEMA_VERSION
