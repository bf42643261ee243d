if not (REGENERATE or ESTIMATE):

    rule train:
        """Fit the runs of one job, in packs of runs of one shape, in one process."""
        input:
            data=train_data_files,
        output:
            manifest=f"{RESULTS}/jobs/chunk{{chunk}}.json",
        log:
            f"{RESULTS}/logs/train/chunk{{chunk}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/chunk{{chunk}}.tsv"
        # Training first: quick local jobs (sweep_config) must not take a core from it.
        priority: 1
        conda:
            "../envs/mlpsweep.yaml"
        envmodules:
            *EXECUTION["env_modules"],
        threads: EXECUTION["threads"]
        resources:
            mem_mb=train_mem_mb,
            runtime=train_runtime,
            gpu=EXECUTION["gpus"],
            slurm_extra=train_slurm_extra,
            attempt=train_attempt,
        params:
            job=train_job,
        script:
            "../../scripts/train.py"
