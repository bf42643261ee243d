rule summarize:
    """Aggregate the runs into runs.csv and the summary tables."""
    input:
        manifests=[] if REGENERATE else manifests(),
    output:
        runs=f"{RESULTS}/summary/runs.csv",
        csv=f"{RESULTS}/summary/summary.csv",
        md=f"{RESULTS}/summary/summary.md",
        tex=f"{RESULTS}/summary/summary.tex",
        compute=f"{RESULTS}/summary/compute.json",
    params:
        results=RESULTS,
        runs=None if REGENERATE else run_paths(),
        options=SWEEP["summary"],
    log:
        f"{RESULTS}/logs/summarize.log",
    benchmark:
        f"{RESULTS}/benchmarks/summarize.tsv"
    localrule: True
    script:
        "../../scripts/summarize.py"
