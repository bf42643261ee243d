"""The import rules of docs/architecture.md: one-way data flow and one definition per concept."""

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "scripts" / "mlpsweep"


def imports(path: Path) -> set[str]:
    """Every module a file imports (function-level imports too), mlpsweep's as 'mlpsweep.x'."""
    found = set()
    package = (
        "mlpsweep." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
        if path.parent != PACKAGE
        else "mlpsweep"
    )
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


DOWNSTREAM = [
    "selection",
    "best",
    "plots",
    "report",
    "estimate",
    "timecourse",
    "timecourse_plots",
    "pattern_maps",
    "comparisons",
    "comparison_plots",
]
TABLES = sorted(f"{p.parent.name}/{p.stem}" for folder in ("tables", "stats") for p in (PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("name", DOWNSTREAM + TABLES)
def test_downstream_never_reaches_back_into_training(name):
    allowed_lazy = {"estimate": {"training"}}.get(name, set())
    assert not (ours(imports(PACKAGE / f"{name}.py")) - allowed_lazy) & {
        "training",
        "engine",
        "engine.pack",
        "engine.step",
        "data",
        "jobs",
    }


def test_statistics_know_nothing_of_tables():
    """stats/ takes arrays and gives arrays (as mne/stats): no pandas, no table module."""
    for path in (PACKAGE / "stats").glob("*.py"):
        found = imports(path)
        assert not {m.split(".")[0] for m in found} & {"pandas", "matplotlib"}, path
        assert {m for m in ours(found) if not m.startswith("stats")} == set(), path


def private_uses(path: Path) -> set[str]:
    """`from mlpsweep.x import _name` and `x._name` on an imported mlpsweep module, in one file."""
    tree = ast.parse(path.read_text())
    found, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("mlpsweep")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(f"{node.module or '.'}.{alias.name}")
                modules.add(alias.asname or alias.name)  # `from . import rundir` binds a module
        elif isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name.startswith("mlpsweep")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                found.add(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    """Shared helpers get a public name in a module named for them, never `from x import _y`."""
    assert private_uses(path) == set()


def test_the_private_import_check_finds_both_forms(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("from .tables.render import _texts\nfrom . import rundir\nrundir._parse('x')\n")
    assert private_uses(source) == {"tables.render._texts", "rundir._parse"}


def test_config_plans_without_keras_or_the_grid():
    assert not ours(imports(PACKAGE / "config.py")) & {"grid", "training", "engine", "data", "jobs"}
    assert not {m.split(".")[0] for m in imports(PACKAGE / "config.py")} & {"keras", "tensorflow", "jax"}


def test_run_identity_and_run_files_have_one_owner():
    """Only identity.py hashes run configs; only rundir.py names a run's files."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name != "identity.py":
            assert "sha256(" not in text or path.name in ("checkpoint.py", "dataset.py", "compact.py"), (
                path
            )  # packs' keys, data fingerprints, names files' keys
        if path.name != "rundir.py":
            assert '"history.csv"' not in text and '"metrics.json"' not in text, path


ARCHITECTURE = REPO / "docs" / "architecture.md"


def module_rows() -> dict[str, str]:
    """docs/architecture.md's module table: the first column's names (`x.py`, `pkg/`) -> the row."""
    rows = {}
    for line in ARCHITECTURE.read_text().splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 2:
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = line
    return rows


def modules() -> list[str]:
    """The modules of scripts/mlpsweep as the table names them: `record.py`, `tables/runs.py`."""
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("module", modules())
def test_every_module_has_its_row_in_the_architecture_page(module):
    """A module is named in the first column, or, in a package, in its package's row (`tables/`)."""
    rows = module_rows()
    package, _, name = module.rpartition("/")
    in_package_row = package and f"`{name}`" in rows.get(f"{package}/", "")
    assert module in rows or in_package_row, f"docs/architecture.md has no row for {module}"


def test_every_row_of_the_architecture_page_is_a_module():
    found = set(modules()) | {m.rpartition("/")[0] + "/" for m in modules() if "/" in m}
    assert set(module_rows()) - found == set(), "rows for modules that do not exist"


def rule_names(start: str) -> set[str]:
    """The backticked module names of the rule (a bullet of the page) that begins with `start`."""
    text = ARCHITECTURE.read_text()
    rule = text[text.index(start) :].split("\n- ", 1)[0]
    return set(re.findall(r"`([a-z_/]+\.py)`", rule))


def test_the_modules_that_import_mne_are_those_the_page_names():
    importing = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "mne" in {m.split(".")[0] for m in imports(p)}
    }
    assert importing == rule_names("Only `data/epochs.py`")  # the rule names the modules


def test_metrics_json_is_read_and_written_by_record_py_alone():
    """Other modules name the file only to remove a stale one (training, before it trains)."""
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        if name in ("record.py", "rundir.py"):
            continue
        uses = [line.strip() for line in path.read_text().splitlines() if "METRICS_FILE" in line]
        assert all(".unlink(missing_ok=True)" in line for line in uses), (name, uses)


# Modules that may write "Fix: " themselves, and why.
OWN_REFUSALS = {
    "refusal.py": "the builder",
    "engine/backend.py": "the engine imports nothing of mlpsweep outside engine/",
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
    assert set(wanted) - set(conda_pins) <= {
        "snakemake-executor-plugin-slurm"
    }  # the jobs' environment needs no executor plugin


LINE_LENGTH = 120  # pyproject's ruff line-length: a reviewer reads two files side by side


def test_no_line_of_the_workflow_code_is_longer_than_the_line_length():
    """scripts/ and workflow/ (Python, rules, schema): long texts are split into adjacent literals."""
    paths = [*(REPO / "scripts").rglob("*.py"), *(REPO / "workflow").rglob("*.smk"), REPO / "workflow" / "Snakefile"]
    long = [
        f"{path.relative_to(REPO)}:{n}"
        for path in paths
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if len(line) > LINE_LENGTH
    ]
    assert long == []
    assert f"line-length = {LINE_LENGTH}" in (REPO / "pyproject.toml").read_text()
