if ESTIMATE:

    rule estimate:
        """Print the runs and jobs left and the expected device-hours, without training
        (`estimate=calibrate`: unmeasured kinds train for two epochs here). Each estimate is a
        new file (named by the time it was asked for), so it always runs; its figures are kept
        for planning to size sweeps (estimates/figures.json: merged into, not an output,
        since Snakemake would delete it first).
        """
        output:
            report=f"{RESULTS}/estimates/{ESTIMATE_STAMP}.md",
        log:
            f"{RESULTS}/logs/estimates/{ESTIMATE_STAMP}.log",
        benchmark:
            f"{RESULTS}/benchmarks/estimates/{ESTIMATE_STAMP}.tsv"
        localrule: True
        conda:
            "../envs/mlpsweep.yaml"
        params:
            calibrate=ESTIMATE_CALIBRATE,
        script:
            "../../scripts/estimate.py"
