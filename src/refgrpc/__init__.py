"""refgrpc: the reference gRPC target of shopbench (seed 004's vacancy service, done right).

Seed 004's API (package `pb`: `pb.AuthService` SignUpUser / SignInUser / VerifyEmail,
`pb.UserService` GetMe, `pb.VacancyService` create, get, update of any subset of fields, delete,
and `GetVacancies` streaming one page), behind an auth interceptor, durable in SQLite, with the
standard gRPC health service and server reflection. Its `.proto` files ship in `protos/pb/`,
written for this package from the seed's API, plus two optional fields of its own (a vacancy's
`version`, the sign-in's `expires_in`) that clients of the seed's API never need.

shopbench never imports this package: it runs `python -m refgrpc …` as a process and speaks gRPC
to it, so whatever works here works on a user's own gRPC service.
"""

FLAWS = ("no-auth", "stale-read", "lost-delete")
