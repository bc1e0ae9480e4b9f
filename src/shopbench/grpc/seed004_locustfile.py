"""The locustfile `shopbench grpc` runs: seed 004's user on gRPC, recorded like every shopbench load.

Importing `shopbench.grpc.locust_users` installs the Locust plugin (`shopbench.locust_plugin.plugin`: the
history recorder with worker shipping, cut-off calls at the stop, the run's companions from
test_start to test_stop); the live view keeps the monitor's user count for fault triggers (its
line stays off: it counts checkouts, which a gRPC run has none of).
"""

from shopbench.grpc.locust_users import GrpcUser, Seed004User  # noqa: F401
from shopbench.locust_plugin.live import install_live_view

install_live_view()
