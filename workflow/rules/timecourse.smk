# Decoding over time: made only for sweeps with a windowed data set (`windows:`), and the
# generalization matrices only with `summary.generalization: true` (timecourse_targets).


rule timecourse:
    """Decoding accuracy per time window with cluster statistics: table and a plot per data set."""
    input:
        runs=f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
    output:
        csv=report(
            f"{RESULTS}/summary/timecourse.csv",
            caption="../report/timecourse_table.rst",
            category="Tables",
            subcategory="Time course",
        ),
        md=report(
            f"{RESULTS}/summary/timecourse.md",
            caption="../report/timecourse_table.rst",
            category="Tables",
            subcategory="Time course",
        ),
        plots=report(
            directory(f"{RESULTS}/plots/timecourse"),
            patterns=["{dataset}.png"],
            caption="../report/timecourse.rst",
            category="Plots",
            subcategory="Decoding over time",
            labels={"data set": "{dataset}"},
        ),
    log:
        f"{RESULTS}/logs/timecourse.log",
    benchmark:
        f"{RESULTS}/benchmarks/timecourse.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        options=SWEEP["summary"],
    script:
        "../../scripts/timecourse.py"


rule generalization:
    """Temporal generalization: train time x test time accuracy per cell, table and matrix plot."""
    input:
        runs=f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
    output:
        tables=directory(f"{RESULTS}/summary/generalization"),
        plots=report(
            directory(f"{RESULTS}/plots/generalization"),
            patterns=["{name}.png"],
            caption="../report/generalization.rst",
            category="Plots",
            subcategory="Temporal generalization",
            labels={"cell": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/generalization.log",
    benchmark:
        f"{RESULTS}/benchmarks/generalization.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        options=SWEEP["summary"],
    script:
        "../../scripts/generalization.py"
