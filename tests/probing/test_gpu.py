"""CUDA checks (opt-in: --run-gpu). Not run in CI, which has no GPU."""
import pandas as pd
import pytest

from probes import ProbeStatus, run_suite

from tiny_models import sentiment_rows, tiny_bert

pytestmark = pytest.mark.gpu


def test_suite_runs_on_cuda_in_bf16_and_measures_cuda_memory(tmp_path):
    import torch

    assert torch.cuda.is_available(), "--run-gpu needs a CUDA device"
    suite = run_suite(pd.DataFrame(sentiment_rows(300)), model=str(tiny_bert(tmp_path / "bert")), budget_steps=60, cache_dir=None)
    assert suite.device.startswith("cuda")
    trained = [t for t in suite.trials if t.phase == "curve"]
    assert trained and all(t.status == ProbeStatus.COMPLETE for t in trained), [t.message for t in trained]
    assert all(t.peak_memory_gib is not None and t.peak_memory_gib > 0 for t in trained)
