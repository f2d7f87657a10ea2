"""The user-facing layer: the command line, `segnas run`'s pipeline, the demo, reports, plots and drawings."""
