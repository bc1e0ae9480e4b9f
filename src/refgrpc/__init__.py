"""refgrpc: the reference gRPC target of shopbench (seed 004's vacancy service, done right).

An auth service (SignInUser, RefreshAccessToken) and a vacancy service (create, update, get,
delete, list with page and limit) behind an auth interceptor, durable in SQLite, with the standard
gRPC health service and server reflection. Its `.proto` files ship in `protos/`.

shopbench never imports this package: it runs `python -m refgrpc …` as a process and speaks gRPC
to it, so whatever works here works on a user's own gRPC service.
"""

FLAWS = ("no-auth", "stale-read", "lost-delete")
