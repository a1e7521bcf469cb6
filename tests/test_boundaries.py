"""What holds across the repository: the product never imports its test doubles; CI runs what the README says."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("synthgen", "agents", "tools", "schemas", "orchestrator", "evals")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_product_module_imports_test_support() -> None:
    files = [path for folder in PRODUCT for path in (REPO / folder).rglob("*.py")]
    assert len(files) > 50
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if n.startswith("synthgen.testing"))
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme = (REPO / "README.md").read_text()
    assert f"```bash\n{ci}\n```" in readme
    assert ci.endswith(".venv/bin/pytest && .venv/bin/synthgen models pull && .venv/bin/pytest -m slow")
