"""The files of a sweep's summary directory, named once: their writers (tables.summary,
selection) and the workflow's rules (common.smk, summary.smk, plots.smk) read them here."""

SUMMARY_FILES = {  # the summarize rule's output name -> its file in <results>/summary
    "runs": "runs.csv",
    "csv": "summary.csv",
    "md": "summary.md",
    "tex": "summary.tex",
    "by_group_csv": "by_group.csv",
    "by_group_md": "by_group.md",
    "compute": "compute.json",
    "search_csv": "search.csv",
    "search_md": "search.md",
    "selected_csv": "selected.csv",
    "selected_md": "selected.md",
    "selected_tex": "selected.tex",
}

PATTERNS_DIR = (
    "patterns"  # summary/patterns/<dataset>_<architecture>_<hparams>-ave.fif and plots/patterns/ (rule `patterns`)
)

COMPARISON_FILES = {  # the compare rule's tables (summary.compare) -> their files in <results>/summary
    "csv": "comparisons.csv",
    "md": "comparisons.md",
}
