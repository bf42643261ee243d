if STATUS:

    rule status:
        """Print where the sweep stands (runs done, training, failed, waiting; time spent and
        left) from its files; trains nothing. A new file each time (named by the time asked).
        """
        output:
            f"{RESULTS}/status/{ESTIMATE_STAMP}.md",
        log:
            f"{RESULTS}/logs/status/{ESTIMATE_STAMP}.log",
        benchmark:
            f"{RESULTS}/benchmarks/status/{ESTIMATE_STAMP}.tsv"
        localrule: True
        conda:
            "../envs/mlpsweep.yaml"
        script:
            "../../scripts/status.py"
