"""The import contract (DESIGN.md): arrows only point down, no cycles, and `import advisor` stays torch-free."""
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    """import-linter's contracts from pyproject.toml: layers, the ground floor, and the advisor core's probe boundary."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _cycles(graph: "grimp.ImportGraph", package: str) -> list[tuple[str, str]]:
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    pairs = []
    for first in modules:
        for second in graph.find_modules_directly_imported_by(first):
            if second in modules and first != second and graph.chain_exists(importer=second, imported=first):
                pairs.append((first, second))
    return pairs


def test_no_import_cycles_inside_a_package():
    graph = grimp.build_graph("advisor", "probes", "knowledge", cache_dir=None)
    for package in ("advisor", "probes", "knowledge"):
        assert _cycles(graph, package) == [], f"import cycle inside {package}"


def test_import_advisor_loads_no_torch():
    code = "import sys, advisor; advisor.advise; bad = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
