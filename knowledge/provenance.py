"""Installed package versions, for the provenance of reports and probe suites (stdlib only)."""
from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata
from typing import Optional

ADVISOR_DISTRIBUTION = "tuning-advisor"
PROVENANCE_PACKAGES = ("tuning-advisor", "pydantic", "pyyaml", "torch", "transformers", "peft", "accelerate", "scikit-learn")


def package_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Python and every provenance package that is installed (read from metadata, nothing imported)."""
    versions = {"python": platform.python_version()}
    versions.update({name: v for name in PROVENANCE_PACKAGES if (v := package_version(name))})
    return dict(versions)


def advisor_version() -> str:
    return package_version(ADVISOR_DISTRIBUTION) or "0+unknown"
