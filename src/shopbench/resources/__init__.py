"""What the system under test and the load generator use while loaded: a sampler beside the load.

Every `interval` seconds (1 s) the sampler reads, for each service, CPU, resident memory, open file
descriptors, threads and TCP connections, and appends one line per service (and per generator
process) to `resources.jsonl` in the run directory (the fields are documented in
docs/formats.md, a contract like `ops.jsonl`). Sources:

- a local service: its whole process tree (a gunicorn master and its workers, `sh -c` and what it
  runs), summed (Linux: /proc and netlink, read once per sample for every tree; elsewhere psutil).
  The root pid is asked again at every sample (`pid_of`), so a service that a fault kills and
  restarts is followed, never a crash.
- a Docker service: its containers' stats through the Docker SDK (one-shot, so a sample never waits
  for the engine's own two-cycle average), summed per service.
- the load generator: this process, and each process forked from it (Locust's `--processes`
  workers), one line each: one Locust process is one gevent loop, so one core is its
  ceiling, and above 90 % of it every latency it measures includes its own queueing (Locust warns
  the same way). That is a verdict warning.

The sampler runs on a real OS thread even inside a gevent-patched Locust process: it then costs
the event loop nothing but the GIL while it reads /proc, and its own CPU time is measurable.

Modules: `procfs` (reading processes), `sources` (what is sampled), `sampler` (the companion and
its thread), `summary` (reading the file back), `lines` (the line format).
"""

from shopbench.resources.lines import FIELDS, GENERATOR, RESOURCES, SATURATED, SERVICE
from shopbench.resources.procfs import CpuClock, ProcStat, Snapshot, read_tree
from shopbench.resources.sampler import ResourceSampler
from shopbench.resources.sources import DockerServices, Generator, ProcessTree, sources_for_backend, supervised
from shopbench.resources.summary import read_samples, run_summary, saturation_warnings, summarize

__all__ = ["FIELDS", "GENERATOR", "RESOURCES", "SATURATED", "SERVICE", "CpuClock", "DockerServices", "Generator",
           "ProcStat", "ProcessTree", "ResourceSampler", "Snapshot", "read_samples", "read_tree", "run_summary",
           "saturation_warnings", "sources_for_backend", "summarize", "supervised"]
