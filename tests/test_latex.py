"""summary.tex is a well-formed booktabs table, and compiles with pdflatex where it is installed."""

import re
import shutil
import subprocess

import pytest

from mlpsweep.storage import write_json_atomic
from mlpsweep.summary import DEFAULT_OPTIONS, collect_runs, write_summary

VARIANTS = {
    "defaults": {},
    "percent_wilcoxon": {"percent": True, "decimals": 1, "significance": {"test": "wilcoxon", "alpha": 0.1}},
    "many_metrics_no_test": {"metrics": ["test_accuracy", "test_loss", "fit_seconds", "n_params"], "bold_best": False, "significance": {"test": "none", "alpha": 0.05}},
    "caption_with_math": {"caption": "Accuracy (\\%) of MLPs; $n$ seeds, \\textit{mean} $\\pm$ std.", "label": "tab:mlp_sweep-1"},
}
DOCUMENT = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{summary.tex}\n\\end{document}\n"


def fake_run(results, dataset, arch, seed, acc, status="finished"):
    run_dir = results / "runs" / dataset / arch / "lr0.01_bs32" / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if status == "failed":
        write_json_atomic(run_dir / "failed.json", {"error": "boom"})
        return
    metrics = {"test_accuracy": acc, "test_balanced_accuracy": acc, "test_macro_f1": acc, "test_loss": 1 - acc, "fit_seconds": 1.5, "epochs_run": 3, "n_params": 99}
    write_json_atomic(run_dir / "metrics.json", {"status": status, "metrics": metrics, "config_hash": "h", "data": {"class_names": ["0", "1"]}, "provenance": {"device": {"type": "CPU"}, "threads": 1}})
    (run_dir / "history.csv").write_text("epoch,loss\n1,0.5\n")
    (run_dir / "model.keras").write_bytes(b"m")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Names with TeX specials (_ and -), a failed cell and a diverged one."""
    results = tmp_path_factory.mktemp("latex") / "results"
    for seed in range(4):
        fake_run(results, "my_data", "wide-mlp", seed, 0.9 + seed / 100)
        fake_run(results, "my_data", "tiny_mlp", seed, 0.8 + seed * seed / 100)
        fake_run(results, "other-set", "wide-mlp", seed, 0.7, status="failed")
        fake_run(results, "other-set", "tiny_mlp", seed, 0.6 + seed / 50, status="diverged" if seed == 0 else "finished")
    return collect_runs(results)


def write_tex(runs, outdir, options) -> str:
    write_summary(runs, {**DEFAULT_OPTIONS, **options}, outdir)
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
    assert re.findall(r"\\(begin|end)\{(\w+)\}", plain) == [("begin", "table"), ("begin", "tabular"), ("end", "tabular"), ("end", "table")]
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
    assert "failed" in tex


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


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_table_compiles_with_booktabs(runs, tmp_path, variant):
    write_tex(runs, tmp_path, VARIANTS[variant])
    (tmp_path / "doc.tex").write_text(DOCUMENT)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "Missing $ inserted" not in log
