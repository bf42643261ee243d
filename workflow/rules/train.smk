if not REGENERATE:

    rule train:
        """Fit the runs of one job (consecutive grid points) in one process."""
        input:
            data=train_data_files,
        output:
            manifest=f"{RESULTS}/jobs/chunk{{chunk}}.json",
        log:
            f"{RESULTS}/logs/train/chunk{{chunk}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/chunk{{chunk}}.tsv"
        conda:
            "../envs/mlpsweep.yaml"
        threads: EXECUTION["threads"]
        resources:
            mem_mb=EXECUTION["mem_mb"],
            runtime=EXECUTION["runtime"],
        params:
            runs=train_runs,
            steps_per_execution=EXECUTION["steps_per_execution"],
        script:
            "../../scripts/train.py"
