# Decoders compared: made only where `summary.compare.baseline` names an architecture
# (compare_targets): every other cell against the baseline cell at the same grid point.


rule compare:
    """Cell − baseline per window (or per data set without windows), paired over subjects or
    folds, with a two-sided test."""
    input:
        runs=f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
    output:
        csv=report(
            f"{RESULTS}/summary/{COMPARISON_FILES['csv']}",
            caption="../report/comparisons_table.rst",
            category="Tables",
            subcategory="Comparisons",
        ),
        md=report(
            f"{RESULTS}/summary/{COMPARISON_FILES['md']}",
            caption="../report/comparisons_table.rst",
            category="Tables",
            subcategory="Comparisons",
        ),
        plots=report(
            directory(f"{RESULTS}/plots/comparisons"),
            patterns=["{dataset}.png"],
            caption="../report/comparisons.rst",
            category="Plots",
            subcategory="Decoders compared over time",
            labels={"data set": "{dataset}"},
        ),
    log:
        f"{RESULTS}/logs/compare.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        options=SWEEP["summary"],
    script:
        "../../scripts/compare.py"
