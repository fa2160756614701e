"""The real CLI in a subprocess: advice, JSON output, clear errors without tracebacks."""
import json
import subprocess
import sys

import pytest

from advisor import AdvisorReport


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900)  # a hang guard, not a speed test


def test_recommend_from_flags_writes_json_report(tmp_path):
    out = tmp_path / "report.json"
    result = run_cli("recommend", "--task", "classification", "--examples", "400", "--model-params-b", "7",
                     "--access", "open_weights", "--gpu-memory-gb", "24", "--json", str(out), "--markdown", str(tmp_path / "r.md"))
    assert result.returncode == 0, result.stderr
    assert "Recommendation: LoRA" in result.stdout
    report = AdvisorReport.model_validate_json(out.read_text())
    assert report.recommendation.method == "lora"
    assert (tmp_path / "r.md").read_text().startswith("# Tuning Advisor report")


def test_recommend_from_situation_file_with_flag_override(tmp_path):
    situation = tmp_path / "s.yaml"
    situation.write_text("task_type: classification\nn_labeled_examples: 400\nmodel_params_b: 7\ngpu_memory_gb: 24\n")
    out = tmp_path / "r.json"
    result = run_cli("recommend", "--situation", str(situation), "--model-access", "api_only", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["situation"]["model_access"] == "api_only"
    assert data["recommendation"]["method"] == "few_shot"


def test_bad_input_names_field_allowed_and_given_without_traceback(tmp_path):
    result = run_cli("recommend", "--task", "clasification", "--examples", "-5", "--model-params-b", "7")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "'task_type'" in result.stderr and "'clasification'" in result.stderr and "'classification'" in result.stderr
    assert "'n_labeled_examples'" in result.stderr and "-5" in result.stderr
    typo = tmp_path / "s.yaml"
    typo.write_text("task_type: qa\nn_labeled_examples: 10\nmodel_params_b: 1\ngpu_mem_gb: 3\n")
    result = run_cli("recommend", "--situation", str(typo))
    assert result.returncode == 2 and "did you mean 'gpu_memory_gb'" in result.stderr
    missing = run_cli("recommend", "--situation", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_import_advisor_does_not_import_torch():
    code = "import sys, advisor; advisor.advise(advisor.Situation(task_type='qa', n_labeled_examples=10, model_params_b=1)); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert result.stdout.strip() == "False", result.stderr


def test_probe_command_on_a_real_file_and_tiny_model(tmp_path):
    import pandas as pd

    from tiny_models import sentiment_rows, tiny_bert

    model = tiny_bert(tmp_path / "bert")
    data = tmp_path / "tickets.csv"
    pd.DataFrame(sentiment_rows(200)).rename(columns={"text": "body", "label": "tag"}).to_csv(data, index=False)
    out, suite_out = tmp_path / "report.json", tmp_path / "suite.json"
    result = run_cli("probe", "--data", str(data), "--text-column", "body", "--label-column", "tag", "--model", str(model),
                     "--budget-steps", "60", "--cache-dir", str(tmp_path / "cache"), "--n-tasks", "3",
                     "--json", str(out), "--suite-json", str(suite_out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = AdvisorReport.model_validate_json(out.read_text())
    assert report.recommendation.evidence_basis == "rules+probes" and report.situation.n_tasks == 3
    assert report.situation.n_labeled_examples == 200
    again = run_cli("recommend", "--task", "classification", "--examples", "200", "--model-params-b",
                    str(report.situation.model_params_b), "--model-architecture", "encoder", "--probe-results", str(suite_out))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "rules+probes" in again.stdout

    wrong = run_cli("probe", "--data", str(data), "--text-column", "text", "--model", str(model))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "'text' is not a column" in wrong.stderr and "['body', 'tag']" in wrong.stderr


def _non_loopback_address():
    """An address of this machine other than loopback (the one outgoing traffic would use), or None."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it only picks the outgoing interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_app_command_serves_the_ui_on_localhost_only():
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "advisor.cli", "app", "--server.port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(80):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the app did not start")
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode("utf-8", "replace")
        outside = _non_loopback_address()
        if outside is not None:  # bound to loopback only: the machine's other address refuses the connection
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((outside, port), timeout=5).close()
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "<title>Streamlit</title>" in page  # the app itself answers, not some other server on the port
    assert f"URL: http://127.0.0.1:{port}" in output, output
    assert "Network URL" not in output and "External URL" not in output, output
