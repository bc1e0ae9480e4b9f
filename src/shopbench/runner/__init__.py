"""Runners: the order of a run (set up, populate, load, settle, read, check, report). The only
place that knows the sequence; `finish.finish_run` is the tail every kind of run shares."""
