"""gRPC targets: stubs from the user's .proto files, a recording client, a Locust user on grpcio
with gevent, the seed 004 workload's runner pieces and the auth probe.

Nothing here is imported by the REST paths; importing `shopbench.grpc.client` patches grpcio for
gevent (Locust's own gRPC example does the same), so only gRPC runs pay for it.
"""

import os

# grpcio's fork handlers crash a child forked while channels are busy (the nemesis restarting a
# service from the Locust process failed about half the time before exec). Every fork shopbench
# makes either execs at once or, in Locust's --processes workers, opens channels of its own, so
# none needs them. Read when gRPC initialises: this package is imported before any channel exists.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
