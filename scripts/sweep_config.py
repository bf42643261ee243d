"""Snakemake entry point of rule `sweep_config`: the validated configuration as YAML.

A script rather than a `run:` block: Snakemake runs a local `run:` job in a new Snakemake
process that plans the whole workflow again (seconds: file headers, the grid), a script in
a plain Python process.
"""

import yaml

from mlpsweep.storage import write_text_atomic

# snakemake: the object the script directive provides (workflow/rules/plots.smk)
write_text_atomic(snakemake.output[0], yaml.safe_dump(snakemake.params.sweep, sort_keys=False))  # noqa: F821
