if not REGENERATE:

    rule train:
        """Fit the runs of one job (a chunk of one cell's seeds) in one process."""
        input:
            data=train_data_files,
        output:
            manifest=f"{RESULTS}/jobs/{{dataset}}/{{architecture}}/{{hparams}}/chunk{{chunk}}.json",
        params:
            runs=train_runs,
            results=RESULTS,
            steps_per_execution=EXECUTION["steps_per_execution"],
        log:
            f"{RESULTS}/logs/train/{{dataset}}/{{architecture}}/{{hparams}}/chunk{{chunk}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/{{dataset}}/{{architecture}}/{{hparams}}/chunk{{chunk}}.tsv"
        threads: EXECUTION["threads"]
        resources:
            mem_mb=EXECUTION["mem_mb"],
            runtime=EXECUTION["runtime"],
        script:
            "../../scripts/train.py"
