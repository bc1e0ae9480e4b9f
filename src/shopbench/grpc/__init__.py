"""gRPC targets: stubs from the user's .proto files, a recording client, a Locust user on grpcio
with gevent, the seed 004 workload's runner pieces and the auth probe.

Nothing here is imported by the REST paths; importing `shopbench.grpc.client` patches grpcio for
gevent (Locust's own gRPC example does the same), so only gRPC runs pay for it.
"""
