"""The gRPC server: auth and vacancy services built from the protos' descriptors, the auth
interceptor, the standard health service and server reflection."""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from refgrpc.store import Store, Vacancy
from refgrpc.tokens import Tokens

log = logging.getLogger("refgrpc")
AUTH, VACANCY = "auth.AuthService", "vacancy.VacancyService"
PUBLIC_PREFIXES = (f"/{AUTH}/", "/grpc.health.", "/grpc.reflection.")
MAX_LIMIT = 1000


class AuthInterceptor(grpc.ServerInterceptor):
    """Every RPC but sign-in, health and reflection needs `authorization: Bearer <valid access token>`."""

    def __init__(self, tokens: Tokens):
        self.tokens = tokens

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer access token is required")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith(PUBLIC_PREFIXES):
            return continuation(details)
        header = dict(details.invocation_metadata or ()).get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token and self.tokens.verify(token.strip()) is not None:
            return continuation(details)
        return self._deny


class Services:
    def __init__(self, pb: dict[str, Any], store: Store, tokens: Tokens, flaws: set[str]):
        self.a, self.v = pb["auth"], pb["vacancy"]
        self.store, self.tokens, self.flaws = store, tokens, flaws
        self._first_seen: dict[str, Vacancy] = {}  # stale-read: the version a get keeps answering
        self._lock = threading.Lock()

    # -- auth -------------------------------------------------------------------------------------
    def _tokens_for(self, email: str) -> Any:
        return self.a.SignInUserResponse(status="success", access_token=self.tokens.issue(email),
                                         refresh_token=self.tokens.issue(email, "refresh"),
                                         expires_in=int(self.tokens.ttl))

    def SignInUser(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if not self.store.check_password(req.email, req.password):
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong email or password")
        return self._tokens_for(req.email)

    def RefreshAccessToken(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        email = self.tokens.verify(req.refresh_token, "refresh")
        if email is None or not self.store.has_user(email):
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid or expired refresh token")
        return self._tokens_for(email)

    # -- vacancies ------------------------------------------------------------------------------
    def _msg(self, v: Vacancy) -> Any:
        return self.v.Vacancy(Id=v.id, Title=v.title, Description=v.description, Views=v.views,
                              Division=v.division, Country=v.country, Version=v.version)

    def CreateVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if not req.Title:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "Title is required")
        v = self.store.create(req.Title, req.Description, req.Division, req.Country)
        if "stale-read" in self.flaws:
            with self._lock:
                self._first_seen[v.id] = v
        return self.v.VacancyResponse(vacancy=self._msg(v))

    def UpdateVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        v = self.store.update(req.Id, req.Title, req.Description, req.Views, req.Division, req.Country)
        if v is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self.v.VacancyResponse(vacancy=self._msg(v))

    def GetVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        v = self.store.get(req.Id)
        if v is not None and "stale-read" in self.flaws:
            with self._lock:  # a read cache that is never invalidated
                v = self._first_seen.get(v.id, v)
        if v is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self.v.VacancyResponse(vacancy=self._msg(v))

    def DeleteVacancy(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if "lost-delete" in self.flaws:
            # Acknowledges without deleting: the vacancy lives on.
            if self.store.get(req.Id) is None:
                ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
            return self.v.DeleteVacancyResponse(success=True)
        if not self.store.delete(req.Id):
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such vacancy")
        return self.v.DeleteVacancyResponse(success=True)

    def GetVacancies(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        if req.page < 1 or not 1 <= req.limit <= MAX_LIMIT:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page must be >= 1 and limit within 1..{MAX_LIMIT}")
        rows, total = self.store.page(req.page, req.limit)
        return self.v.GetVacanciesResponse(vacancies=[self._msg(v) for v in rows], total=total)


def _generic_handler(module: Any, service_name: str, impl: Services) -> grpc.GenericRpcHandler:
    """A handler for every method the descriptor declares, so the .proto stays the one definition."""
    service = module.DESCRIPTOR.services_by_name[service_name.rsplit(".", 1)[1]]
    handlers = {}
    for method in service.methods:
        req_cls = _message_class(method.input_type)
        resp_cls = _message_class(method.output_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(impl, method.name), request_deserializer=req_cls.FromString,
            response_serializer=resp_cls.SerializeToString)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _message_class(descriptor: Any) -> Any:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def build_server(pb: dict[str, Any], store: Store, tokens: Tokens, flaws: set[str], host: str, port: int,
                 workers: int = 16) -> grpc.Server:
    interceptors = [] if "no-auth" in flaws else [AuthInterceptor(tokens)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), interceptors=interceptors)
    impl = Services(pb, store, tokens, flaws)
    server.add_generic_rpc_handlers((_generic_handler(pb["auth"], AUTH, impl),
                                     _generic_handler(pb["vacancy"], VACANCY, impl)))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", AUTH, VACANCY):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((AUTH, VACANCY, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    return server
