"""The gRPC server: seed 004's auth, user and vacancy services (package `pb`) built from the protos'
descriptors, the auth interceptor, the standard health service and server reflection.

The handlers use only what the protos declare: with the seed's own protos (no `version`, no
`expires_in`) the same server speaks exactly the seed's API.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from refgrpc.store import Store, Vacancy
from refgrpc.stubs import Protos
from refgrpc.tokens import Tokens

log = logging.getLogger("refgrpc")
AUTH, USER, VACANCY = "pb.AuthService", "pb.UserService", "pb.VacancyService"
PUBLIC_PREFIXES = (f"/{AUTH}/", "/grpc.health.", "/grpc.reflection.")
MAX_LIMIT, DEFAULT_LIMIT = 1000, 10
UPDATE_FIELDS = {"Title": "title", "Description": "description", "Views": "views", "Division": "division",
                 "Country": "country"}
KINDS = {(False, False): grpc.unary_unary_rpc_method_handler, (False, True): grpc.unary_stream_rpc_method_handler,
         (True, False): grpc.stream_unary_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}


def _bearer(context_or_metadata: Any) -> str:
    metadata = context_or_metadata.invocation_metadata() if hasattr(context_or_metadata, "invocation_metadata") \
        else context_or_metadata
    scheme, _, token = dict(metadata or ()).get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AuthInterceptor(grpc.ServerInterceptor):
    """Every RPC but the auth service's, health and reflection needs `authorization: Bearer <valid access token>`."""

    def __init__(self, tokens: Tokens):
        self.tokens = tokens

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(PUBLIC_PREFIXES):
            return handler
        token = _bearer(details.invocation_metadata)
        if token and self.tokens.verify(token) is not None:
            return handler

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer access token is required")

        return KINDS[(handler.request_streaming, handler.response_streaming)](deny)


class Services:
    def __init__(self, pb: Protos, store: Store, tokens: Tokens, flaws: set[str]):
        self.pb, self.store, self.tokens, self.flaws = pb, store, tokens, flaws
        self.versioned = pb.has_field("pb.Vacancy", "version")
        self.says_expiry = pb.has_field("pb.SignInUserResponse", "expires_in")
        self._first_seen: dict[str, Vacancy] = {}  # stale-read: what a get keeps answering
        self._lock = threading.Lock()

    # -- auth ----------------------------------------------------------------------------------------
    def SignUpUser(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if not req.email or not req.password or req.password != req.passwordConfirm:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "email and password (confirmed) are required")
        if self.store.user(req.email) is not None:
            ctx.abort(grpc.StatusCode.ALREADY_EXISTS, "a user with this email exists")
        self.store.put_user(req.email, req.password, req.name)
        return self.pb.message("pb.GenericResponse")(status="success", message="signed up")

    def SignInUser(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if not self.store.check_password(req.email, req.password):
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong email or password")
        extra = {"expires_in": int(self.tokens.ttl)} if self.says_expiry else {}
        return self.pb.message("pb.SignInUserResponse")(
            status="success", access_token=self.tokens.issue(req.email),
            refresh_token=self.tokens.issue(req.email, "refresh"), **extra)

    def VerifyEmail(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        # No mail is sent: users can sign in as soon as they signed up, so no code is ever valid.
        ctx.abort(grpc.StatusCode.INVALID_ARGUMENT if not req.verificationCode else grpc.StatusCode.NOT_FOUND,
                  "no such verification code")

    # -- user ----------------------------------------------------------------------------------------
    def GetMe(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        email = self.tokens.verify(_bearer(ctx)) if _bearer(ctx) else None
        user = self.store.user(email) if email else None
        if user is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no signed-in user")
        return self.pb.message("pb.UserResponse")(user={
            "id": user.id, "name": user.name, "email": user.email, "role": user.role,
            "created_at": _stamp(user.created_at), "updated_at": _stamp(user.created_at)})

    # -- vacancies -----------------------------------------------------------------------------------
    def _msg(self, v: Vacancy) -> Any:
        extra = {"version": v.version} if self.versioned else {}
        return self.pb.message("pb.Vacancy")(
            Id=v.id, Title=v.title, Description=v.description, Views=v.views, Division=v.division,
            Country=v.country, created_at=_stamp(v.created_at), updated_at=_stamp(v.updated_at), **extra)

    def _response(self, v: Vacancy) -> Any:
        return self.pb.message("pb.VacancyResponse")(vacancy=self._msg(v))

    def CreateVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if not req.Title:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "Title is required")
        v = self.store.create(req.Title, req.Description, req.Division, req.Country)
        if "stale-read" in self.flaws:
            with self._lock:
                self._first_seen[v.id] = v
        return self._response(v)

    def UpdateVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        changes = {column: getattr(req, name) for name, column in UPDATE_FIELDS.items() if req.HasField(name)}
        v = self.store.update(req.Id, changes)
        if v is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self._response(v)

    def GetVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        v = self.store.get(req.Id)
        if v is not None and "stale-read" in self.flaws:
            with self._lock:  # a read cache that is never invalidated
                v = self._first_seen.get(v.id, v)
        if v is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self._response(v)

    def DeleteVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if "lost-delete" in self.flaws:
            # Acknowledges without deleting: the vacancy lives on.
            if self.store.get(req.Id) is None:
                ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        elif not self.store.delete(req.Id):
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self.pb.message("pb.DeleteVacancyResponse")(success=True)

    def GetVacancies(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        page = req.page if req.HasField("page") else 1
        limit = req.limit if req.HasField("limit") else DEFAULT_LIMIT
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page must be >= 1 and limit within 1..{MAX_LIMIT}")
        for v in self.store.page(page, limit):
            yield self._msg(v)


def _stamp(ns: int) -> dict[str, int]:
    return {"seconds": ns // 1_000_000_000, "nanos": ns % 1_000_000_000}


def _generic_handler(pb: Protos, service_name: str, impl: Services) -> grpc.GenericRpcHandler:
    """A handler for every method the descriptor declares, so the .proto stays the one definition."""
    service = pb.service(service_name)
    handlers = {}
    for method in service.methods:
        req_cls = pb.message(method.input_type.full_name)
        resp_cls = pb.message(method.output_type.full_name)
        kind = KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(getattr(impl, method.name), request_deserializer=req_cls.FromString,
                                     response_serializer=resp_cls.SerializeToString)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def build_server(pb: Protos, store: Store, tokens: Tokens, flaws: set[str], host: str, port: int,
                 workers: int = 16) -> grpc.Server:
    interceptors = [] if "no-auth" in flaws else [AuthInterceptor(tokens)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), interceptors=interceptors)
    impl = Services(pb, store, tokens, flaws)
    names = []
    for name in (AUTH, USER, VACANCY):
        try:
            pb.service(name)
        except KeyError:
            continue  # a proto set without it (the user service is optional)
        names.append(name)
    server.add_generic_rpc_handlers(tuple(_generic_handler(pb, name, impl) for name in names))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _enable_reflection(server, pb, names)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    return server


def _enable_reflection(server: grpc.Server, pb: Protos, names: list[str]) -> None:
    """Server reflection over the service's own descriptor pool (grpcio-reflection reads the default
    pool unless given one)."""
    reflection.enable_server_reflection((*names, reflection.SERVICE_NAME, health.SERVICE_NAME), server,
                                        pool=_ReflectionPool(pb.pool))


class _ReflectionPool:
    """The service's pool, falling back to the default one for health and reflection themselves."""

    def __init__(self, pool: Any):
        from google.protobuf import descriptor_pool

        self.pools = (pool, descriptor_pool.Default())

    def __getattr__(self, name: str) -> Any:
        def find(*args: Any) -> Any:
            for pool in self.pools:
                try:
                    return getattr(pool, name)(*args)
                except KeyError:
                    continue
            raise KeyError(args[0] if args else name)

        return find
