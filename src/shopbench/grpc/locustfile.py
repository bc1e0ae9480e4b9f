"""The locustfile `shopbench grpc` runs: seed 004's user on gRPC, recorded like every shopbench load.

Importing `shopbench.stress.recording` registers the shared history recorder (local writes, worker
batches to the master) and starts the fault hook around the load.
"""

from shopbench.grpc.user import GrpcUser, Seed004User  # noqa: F401
from shopbench.stress import recording  # noqa: F401
