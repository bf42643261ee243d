# Activation patterns (summary.patterns: true): made only for sweeps with a windowed data set
# (patterns_targets); the training jobs leave each windowed run's patterns.csv.


rule patterns:
    """Activation patterns per cell: an MNE evoked file and a row of topomaps per decision score."""
    input:
        runs=f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
        timecourse=f"{RESULTS}/summary/timecourse.csv",
    output:
        tables=directory(f"{RESULTS}/summary/{PATTERNS_DIR}"),
        plots=report(
            directory(f"{RESULTS}/plots/patterns"),
            patterns=["{name}.png"],
            caption="../report/patterns.rst",
            category="Plots",
            subcategory="Activation patterns",
            labels={"cell": "{name}"},
        ),
    log:
        f"{RESULTS}/logs/patterns.log",
    benchmark:
        f"{RESULTS}/benchmarks/patterns.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        datasets=SWEEP["datasets"],
    script:
        "../../scripts/patterns.py"
