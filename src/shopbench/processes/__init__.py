"""Local service processes: start, stop, SIGKILL, SIGSTOP/SIGCONT and restart by service name.

The one place in shopbench that owns OS processes. The reference shop launcher, `shopbench shop`,
the local fault backend and `shopbench services` all go through a `Supervisor`, so a service
started by one command can be killed, paused or stopped by another.

  probes       free ports, the one TCP probe, HTTP status and health
  proctree     one process's state, a pid's identity, a group's members, listening ports (psutil)
  statefiles   ServiceSpec, and the NAME.json / NAME.log a service leaves in the state folder
  landing      Landing: whether a kill, pause or resume took effect, and the evidence
  adoption     finding a running instance shopbench did not start
  servicetree  ServiceTrees: a service's live processes (root, descendants, group) and signals to them
  supervisor   Supervisor(ServiceTrees): the lifecycle, faults and adoption of a folder's services
  spawn        the one way to start a child: its own session, tied to shopbench's life
  guardian     the restore guardian: resumes held pauses and ends tied children if shopbench is killed

Every fault action is *verified* (`Landing`): a kill has landed when no process of the tree is
left and the service's ports refuse connections; a pause when every process of the tree is
stopped (and, with a health URL, a request gets no answer); a resume, start or restart when the
service answers its health check.
"""

from shopbench.processes.landing import HANG_PROBE_S, Landing
from shopbench.processes.probes import (
    free_port,
    free_ports,
    health_ok,
    http_status,
    split_hostport,
    tcp_open,
    tcp_refused,
)
from shopbench.processes.proctree import listening_ports
from shopbench.processes.statefiles import PAUSED, RUNNING, STOPPED, ServiceSpec, ServiceStatus
from shopbench.processes.supervisor import Supervisor

__all__ = ["HANG_PROBE_S", "PAUSED", "RUNNING", "STOPPED", "Landing", "ServiceSpec", "ServiceStatus",
           "Supervisor", "free_port", "free_ports", "health_ok", "http_status", "listening_ports",
           "split_hostport", "tcp_open", "tcp_refused"]
