import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

OPT_IN = {"slow": "--run-slow", "gpu": "--run-gpu", "browser": "--run-browser"}


def pytest_addoption(parser):
    for marker, flag in OPT_IN.items():
        parser.addoption(flag, action="store_true", default=False, help=f"run tests marked {marker}")


def pytest_collection_modifyitems(config, items):
    for marker, flag in OPT_IN.items():
        if config.getoption(flag):
            continue
        skip = pytest.mark.skip(reason=f"needs {flag}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
