"""Statistics of the tables, one per module, arrays in and arrays out (as mne/stats)."""
