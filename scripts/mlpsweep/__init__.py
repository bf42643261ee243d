"""mlpsweep: sweeps of Keras MLPs driven by Snakemake."""
