"""shopbench on Locust: user classes that own a shop driver, record every operation in the run's
history (also from `--processes N` and remote workers), and report each one to Locust's stats.

Import `shopbench.locust_plugin.user` (it imports Locust, which monkey-patches the process) only from a
locustfile or the stress runner; this package's `__init__` stays import-light on purpose.
"""
