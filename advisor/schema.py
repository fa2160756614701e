"""Write schema/report.schema.json (run after bumping REPORT_SCHEMA_VERSION): python -m advisor.schema"""
import json
from pathlib import Path

from advisor.report import REPORT_SCHEMA_VERSION, AdvisorReport

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "report.schema.json"

if __name__ == "__main__":
    document = {"schema_version": REPORT_SCHEMA_VERSION, "schema": AdvisorReport.model_json_schema(mode="serialization")}
    SCHEMA_PATH.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_PATH}")
