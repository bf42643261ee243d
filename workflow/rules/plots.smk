rule plots:
    """Draw the figures of the sweep from the summary tables and the runs' history.csv files."""
    input:
        runs=f"{RESULTS}/summary/{SUMMARY_FILES['runs']}",
        summary=f"{RESULTS}/summary/{SUMMARY_FILES['csv']}",
        compute=f"{RESULTS}/summary/{SUMMARY_FILES['compute']}",
    output:
        heatmap_png=report(
            f"{RESULTS}/plots/heatmap.png",
            caption="../report/heatmap.rst",
            category="Plots",
            subcategory="Overview",
        ),
        heatmap_pdf=f"{RESULTS}/plots/heatmap.pdf",
        compute_png=report(
            f"{RESULTS}/plots/compute.png",
            caption="../report/compute.rst",
            category="Compute",
        ),
        compute_pdf=f"{RESULTS}/plots/compute.pdf",
        bars=report(
            directory(f"{RESULTS}/plots/bars"),
            patterns=["{dataset}.png"],
            caption="../report/bars.rst",
            category="Plots",
            subcategory="Best-by metric per data set",
            labels={"data set": "{dataset}"},
        ),
        confusion=report(
            directory(f"{RESULTS}/plots/confusion"),
            patterns=["{dataset}.png"],
            caption="../report/confusion.rst",
            category="Plots",
            subcategory="Confusion matrices",
            labels={"data set": "{dataset}"},
        ),
        curves=report(
            directory(f"{RESULTS}/plots/learning_curves"),
            patterns=["{dataset}/{architecture}/{hparams}.png"],
            caption="../report/learning_curves.rst",
            category="Plots",
            subcategory="Learning curves",
            labels={
                "data set": "{dataset}",
                "architecture": "{architecture}",
                "hyperparameters": "{hparams}",
            },
        ),
        search=report(
            directory(f"{RESULTS}/plots/search"),
            patterns=["{dataset}.png"],
            caption="../report/search.rst",
            category="Plots",
            subcategory="Search: score against sampled values",
            labels={"data set": "{dataset}"},
        ),
    log:
        f"{RESULTS}/logs/plots.log",
    benchmark:
        f"{RESULTS}/benchmarks/plots.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    # Figures are drawn by this many forked processes (common.smk: plot_threads).
    threads: plot_threads
    params:
        options=SWEEP["summary"],
        search=SWEEP["search"],
    script:
        "../../scripts/plot.py"


rule sweep_config:
    """The validated configuration, defaults filled in, as a report item."""
    output:
        report(
            f"{RESULTS}/summary/config.yaml",
            caption="../report/config.rst",
            category="Configuration",
        ),
    log:
        f"{RESULTS}/logs/sweep_config.log",
    benchmark:
        f"{RESULTS}/benchmarks/sweep_config.tsv"
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    params:
        sweep=SWEEP,
    # A script, not `run:`: a local `run:` job is a new Snakemake process that plans again.
    script:
        "../../scripts/sweep_config.py"
