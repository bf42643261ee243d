rule summarize:
    """Aggregate the runs into runs.csv and the summary tables."""
    input:
        manifests=[] if REGENERATE else manifests(),
    output:
        runs=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
            caption="../report/runs.rst",
            category="Tables",
            subcategory="Per run",
        ),
        csv=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['csv']}",
            caption="../report/summary.rst",
            category="Tables",
            subcategory="Summary",
        ),
        md=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['md']}",
            caption="../report/summary.rst",
            category="Tables",
            subcategory="Summary",
        ),
        tex=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['tex']}",
            caption="../report/latex.rst",
            category="Tables",
            subcategory="Summary",
        ),
        by_group_csv=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['by_group_csv']}",
            caption="../report/by_group.rst",
            category="Tables",
            subcategory="Per group",
        ),
        by_group_md=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['by_group_md']}",
            caption="../report/by_group.rst",
            category="Tables",
            subcategory="Per group",
        ),
        compute=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['compute']}",
            caption="../report/compute.rst",
            category="Compute",
        ),
        search_csv=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['search_csv']}",
            caption="../report/search_table.rst",
            category="Tables",
            subcategory="Search",
        ),
        search_md=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['search_md']}",
            caption="../report/search_table.rst",
            category="Tables",
            subcategory="Search",
        ),
        selected_csv=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['selected_csv']}",
            caption="../report/selected.rst",
            category="Tables",
            subcategory="Selected without peeking",
        ),
        selected_md=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['selected_md']}",
            caption="../report/selected.rst",
            category="Tables",
            subcategory="Selected without peeking",
        ),
        selected_tex=report(
            f"{RESULTS}/summary/{SUMMARY_FILES['selected_tex']}",
            caption="../report/latex.rst",
            category="Tables",
            subcategory="Selected without peeking",
        ),
        best=directory(f"{RESULTS}/best"),
    log:
        f"{RESULTS}/logs/summarize.log",
    benchmark:
        f"{RESULTS}/benchmarks/summarize.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        runs=None if REGENERATE else run_paths(),
        options=SWEEP["summary"],
        search=SWEEP["search"],
    script:
        "../../scripts/summarize.py"
