"""summary.tex is a well-formed booktabs table, and compiles with pdflatex where it is installed."""

import re
import shutil
import subprocess

import pytest

from fakes import write_run

from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

VARIANTS = {
    "defaults": {},
    "percent_wilcoxon": {"percent": True, "decimals": 1, "significance": {"test": "wilcoxon", "alpha": 0.1}},
    "many_metrics_no_test": {
        "metrics": ["test_accuracy", "test_loss", "fit_seconds", "n_params"],
        "bold_best": False,
        "significance": {"test": "none", "alpha": 0.05},
    },
    "no_test_accuracy": {"metrics": ["test_loss", "epochs_run"], "best_by": "test_loss"},
    "caption_with_math": {
        "caption": "Accuracy (\\%) of MLPs; $n$ seeds, \\textit{mean} $\\pm$ std.",
        "label": "tab:mlp_sweep-1",
    },
}
DOCUMENT = (
    "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{summary.tex}\n\\end{document}\n"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Names with TeX specials (_ and -), a failed cell, a diverged run, a cell at chance level
    (with the ddagger mark) and label-permutation runs (the Perm. p column)."""
    results = tmp_path_factory.mktemp("latex") / "results"
    for seed in range(4):
        write_run(results, "my_data", "wide-mlp", "lr0.01_bs32", seed=seed, accuracy=0.9 + seed / 100)
        write_run(results, "my_data", "tiny_mlp", "lr0.01_bs32", seed=seed, accuracy=0.5 + seed * seed / 100)
        write_run(results, "other-set", "wide-mlp", "lr0.01_bs32", seed=seed, status="failed")
        write_run(
            results,
            "other-set",
            "tiny_mlp",
            "lr0.01_bs32",
            seed=seed,
            accuracy=0.6 + seed / 50,
            status="diverged" if seed == 0 else "finished",
        )
    for perm in (1, 2, 3):
        write_run(results, "my_data", "wide-mlp", "lr0.01_bs32", seed=0, permutation=perm, accuracy=0.5)
    return collect_runs(results)


def write_tex(runs, outdir, options) -> str:
    write_summary(runs, options, outdir)
    return (outdir / "summary.tex").read_text()


def strip_escapes(text: str) -> str:
    """The text without escaped braces, dollars and percents, and without comments."""
    text = re.sub(r"\\[{}$%&_#]", "", text)
    return re.sub(r"(?<!\\)%.*", "", text)


def check_table(tex: str) -> None:
    """Raise AssertionError unless `tex` is a complete booktabs table with consistent rows."""
    plain = strip_escapes(tex)
    depth = 0
    for ch in plain:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "a } closes nothing"
    assert depth == 0, "unbalanced braces"
    for line in plain.splitlines():
        assert line.count("$") % 2 == 0, f"unbalanced math in: {line}"
    assert re.findall(r"\\(begin|end)\{(\w+)\}", plain) == [
        ("begin", "table"),
        ("begin", "tabular"),
        ("end", "tabular"),
        ("end", "table"),
    ]
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in plain, f"{rule} missing"
    assert plain.index("\\toprule") < plain.index("\\midrule") < plain.index("\\bottomrule")
    spec = re.search(r"\\begin\{tabular\}\{([lcr|]+)\}", plain)
    assert spec, "tabular without a column specification"
    columns = len(spec.group(1).replace("|", ""))
    body = plain.split("\\toprule", 1)[1].split("\\bottomrule", 1)[0]
    rows = [line for line in body.splitlines() if line.strip() and not line.strip().startswith("\\midrule")]
    assert rows, "table without rows"
    for line in rows:
        assert line.rstrip().endswith("\\\\"), f"row does not end with \\\\: {line}"
        assert line.count("&") == columns - 1, f"{line.count('&') + 1} cells for {columns} columns: {line}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_table_is_well_formed(runs, tmp_path, variant):
    tex = write_tex(runs, tmp_path, VARIANTS[variant])
    check_table(tex)
    assert "my\\_data" in tex and "tiny\\_mlp" in tex and "lr0.01\\_bs32" in tex
    assert "failed" in tex and "$^\\ddagger$" in tex and "Perm.~$p$" in tex


def _header(tex: str) -> str:
    return tex.split("\\toprule\n", 1)[1].split("\n", 1)[0]


BREAKAGES = {
    "missing cell": lambda tex: tex.replace(_header(tex), _header(tex).replace(" & ", " ", 1)),
    "extra brace": lambda tex: tex.replace("\\centering", "\\centering{"),
    "no bottomrule": lambda tex: tex.replace("\\bottomrule", ""),
    "open math": lambda tex: tex.replace("$\\pm$", "$\\pm", 1),
    "unclosed tabular": lambda tex: tex.replace("\\end{tabular}", ""),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_checker_rejects_broken_tables(runs, tmp_path, breakage):
    tex = write_tex(runs, tmp_path, {})
    broken = BREAKAGES[breakage](tex)
    assert broken != tex
    with pytest.raises(AssertionError):
        check_table(broken)


@pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_table_compiles_with_booktabs(runs, tmp_path, variant):
    write_tex(runs, tmp_path, VARIANTS[variant])
    (tmp_path / "doc.tex").write_text(DOCUMENT)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "Missing $ inserted" not in log
