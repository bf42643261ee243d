"""The import rules of docs/architecture.md: one-way data flow and one definition per concept."""

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "scripts" / "mlpsweep"


def imports(path: Path) -> set[str]:
    """Every module a file imports (function-level imports too), mlpsweep's as 'mlpsweep.x'."""
    found = set()
    package = "mlpsweep." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1]) if path.parent != PACKAGE else "mlpsweep"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
                found |= {f"{name}.{a.name}" if not node.module else name for a in node.names}
            else:
                found.add(node.module)
    return found


def ours(modules: set[str]) -> set[str]:
    """mlpsweep's own modules among `modules`, as 'config', 'engine.pack', ..."""
    return {m.removeprefix("mlpsweep.") for m in modules if m.startswith("mlpsweep.")}


def test_the_registry_imports_nothing_of_mlpsweep():
    assert ours(imports(PACKAGE / "registry.py")) == set()


@pytest.mark.parametrize("path", sorted((PACKAGE / "engine").glob("*.py")), ids=lambda p: p.name)
def test_the_engine_stands_alone(path):
    found = imports(path)
    assert {m for m in ours(found) if not m.startswith("engine")} == set(), "the engine imports only itself"
    assert not {m.split(".")[0] for m in found} & {"sklearn", "pandas", "scipy", "snakemake", "matplotlib"}
    if path.name not in ("_tensorflow.py", "_jax.py"):
        assert not {m.split(".")[0] for m in found} & {"tensorflow", "jax"}, "only the backend files import a backend"


@pytest.mark.parametrize("name", ["summary", "selection", "plots", "report", "estimate", "timecourse", "timecourse_plots"])
def test_downstream_never_reaches_back_into_training(name):
    allowed_lazy = {"estimate": {"training"}}.get(name, set())
    assert not (ours(imports(PACKAGE / f"{name}.py")) - allowed_lazy) & {"training", "engine", "engine.pack", "engine.step", "data", "jobs"}


def test_config_plans_without_keras_or_the_grid():
    assert not ours(imports(PACKAGE / "config.py")) & {"grid", "training", "engine", "data", "jobs"}
    assert not {m.split(".")[0] for m in imports(PACKAGE / "config.py")} & {"keras", "tensorflow", "jax"}


def test_run_identity_and_run_files_have_one_owner():
    """Only identity.py hashes run configs; only rundir.py names a run's files."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name != "identity.py":
            assert "sha256(" not in text or path.name in ("checkpoint.py", "dataset.py"), path  # packs' keys and data fingerprints
        if path.name != "rundir.py":
            assert '"history.csv"' not in text and '"metrics.json"' not in text, path


# Modules that may write "Fix: " themselves, and why.
OWN_REFUSALS = {
    "refusal.py": "the builder",
    "engine/backend.py": "the engine imports nothing of mlpsweep outside engine/",
    "summary.py": "options_with_defaults: its line moves to the table layer (#23), which builds it with refusal.py",
}


def strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of a module (f-strings' literal parts too), docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [n for n in found if id(n) not in docstrings]


def test_refusals_are_built_by_refusal_py_alone():
    """Every refusal ("where: key 'k': problem. Fix: ...") comes from refusal.refusal: no other
    module or script writes "Fix: " in a string (docstrings and comments may name the form)."""
    paths = [*PACKAGE.rglob("*.py"), *(REPO / "scripts").glob("*.py")]
    found = []
    for path in paths:
        name = path.relative_to(PACKAGE).as_posix() if path.is_relative_to(PACKAGE) else path.name
        if name in OWN_REFUSALS:
            continue
        found += [f"{name}:{n.lineno}" for n in strings(ast.parse(path.read_text())) if "Fix: " in n.value]
    assert found == [], "build these messages with mlpsweep.refusal.refusal"


def pins(path: Path) -> dict[str, str]:
    """name -> version of the `name==version` lines of a requirements file (following -r)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            found |= pins(path.parent / line[3:].strip())
        elif "==" in line and not line.startswith("-"):
            name, version = line.split(";")[0].split("==")
            found[name.strip().split("[")[0]] = version.strip()
    return found


def test_the_conda_environment_pins_what_the_gpu_requirements_pin():
    """workflow/envs/mlpsweep.yaml cannot include the requirements files: a test keeps it equal."""
    import yaml

    env = yaml.safe_load((REPO / "workflow" / "envs" / "mlpsweep.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    conda_pins = {line.split("==")[0].split("[")[0]: line.split("==")[1] for line in pip}
    wanted = pins(REPO / "requirements-gpu.txt")
    assert conda_pins == {name: version for name, version in wanted.items() if name in conda_pins}
    assert set(wanted) - set(conda_pins) <= {"snakemake-executor-plugin-slurm"}  # the jobs' environment needs no executor plugin
