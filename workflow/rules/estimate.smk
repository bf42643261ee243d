if ESTIMATE:

    rule estimate:
        """Print the runs and jobs left and the expected device-hours, without training.
        Each estimate is a new file (named by the time it was asked for), so it always runs.
        """
        output:
            f"{RESULTS}/estimates/{ESTIMATE_STAMP}.md",
        log:
            f"{RESULTS}/logs/estimates/{ESTIMATE_STAMP}.log",
        benchmark:
            f"{RESULTS}/benchmarks/estimates/{ESTIMATE_STAMP}.tsv"
        localrule: True
        conda:
            "../envs/mlpsweep.yaml"
        script:
            "../../scripts/estimate.py"
