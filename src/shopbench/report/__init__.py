"""Reports: a finished run directory turned into a self-contained HTML page, comparisons, live progress."""
