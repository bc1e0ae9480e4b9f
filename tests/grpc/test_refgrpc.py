"""The reference gRPC service, over real gRPC: seed 004's API (package pb), auth, CRUD with optional
fields, a streamed list, health, reflection, durability across SIGKILL, and each flaw doing what
it says."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import compile_dir, from_reflection
from shopbench.grpc.service import NAME, reference_protos
from shopbench.history import MemoryHistory
from shopbench.workload.seed004 import Login, jwt_exp

CATALOG = compile_dir(reference_protos())


def client_for(service, history=None) -> GrpcClient:
    return GrpcClient(service.target, CATALOG, history if history is not None else MemoryHistory(), "t")


def signed_in(service) -> GrpcClient:
    c = client_for(service)
    assert Login(service.creds[0]).sign_in(c)
    return c


def listing(c: GrpcClient, **request) -> list:
    r = c.call("GetVacancies", request)
    assert r.ok, r.error
    return r.response


def test_sign_in_and_tokens(make_service) -> None:
    service = make_service(token_ttl=1.5)
    c = client_for(service)
    bad = c.call("SignInUser", {"email": service.creds[0].email, "password": "wrong"}, token=None)
    assert bad.code == "UNAUTHENTICATED"
    ok = c.call("SignInUser", {"email": service.creds[1].email, "password": service.creds[1].password}, token=None)
    assert ok.ok and ok.response.status == "success" and ok.response.expires_in == 1
    assert jwt_exp(ok.response.access_token) is not None  # a JWT: its exp is readable without a key
    c.token = ok.response.access_token
    assert c.call("GetVacancies", {}).ok
    for token in (None, "garbage", ok.response.refresh_token):
        assert c.call("GetVacancies", {}, token=token).code == "UNAUTHENTICATED"
    time.sleep(1.7)
    assert c.call("GetVacancies", {}).code == "UNAUTHENTICATED"  # expired
    assert c.call("SignUpUser", {"email": "new@x", "password": "p", "passwordConfirm": "p"}, token=None).ok
    assert Login(type(service.creds[0])(9, "new@x", "p")).sign_in(c)
    me = c.call("GetMe", {})
    assert me.ok and me.response.user.email == "new@x"
    assert c.call("GetMe", {}, token=None).code == "UNAUTHENTICATED"
    c.close()


def test_crud_optional_fields_timestamps_and_streamed_pages(make_service) -> None:
    c = signed_in(make_service())
    made = [c.call("CreateVacancy", {"Title": f"t{i}", "Country": "LT", "Division": 2}).response.vacancy
            for i in range(5)]
    assert [v.version for v in made] == [1] * 5 and made[0].created_at == made[0].updated_at
    vid = made[0].Id
    views = c.call("UpdateVacancy", {"Id": vid, "Views": 7}).response.vacancy
    assert (views.Title, views.Views, views.Country, views.version) == ("t0", 7, "LT", 2)  # only Views changed
    assert views.updated_at.ToNanoseconds() > made[0].updated_at.ToNanoseconds()
    title = c.call("UpdateVacancy", {"Id": vid, "Title": "v", "Division": 3}).response.vacancy
    assert (title.Title, title.Views, title.Division, title.version) == ("v", 7, 3, 3)
    got = c.call("GetVacancy", {"Id": vid}).response.vacancy
    assert (got.Title, got.version) == ("v", 3)
    page2 = listing(c, page=2, limit=2)
    assert [v.Id for v in page2] == [made[2].Id, made[3].Id]
    assert len(listing(c)) == 5  # page 1, limit 10 when not given
    assert c.call("GetVacancies", {"page": 0, "limit": 2}).code == "INVALID_ARGUMENT"
    assert c.call("CreateVacancy", {}).code == "INVALID_ARGUMENT"
    assert c.call("DeleteVacancy", {"Id": vid}).ok
    assert c.call("GetVacancy", {"Id": vid}).code == "NOT_FOUND"
    assert c.call("DeleteVacancy", {"Id": vid}).code == "NOT_FOUND"
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "x"}).code == "NOT_FOUND"
    c.close()


def test_health_and_reflection_describe_the_seed_api(make_service) -> None:
    service = make_service()
    with grpc.insecure_channel(service.target) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="pb.VacancyService"), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    catalog = from_reflection(service.target)
    assert {m.service for m in catalog.methods.values()} == {"pb.AuthService", "pb.UserService", "pb.VacancyService"}
    assert catalog.method("GetVacancies").server_streaming and not catalog.method("GetVacancy").streaming


def test_acknowledged_writes_survive_sigkill(make_service) -> None:
    service = make_service()
    c = signed_in(service)
    vid = c.call("CreateVacancy", {"Title": "durable"}).response.vacancy.Id
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "again"}).ok
    service.supervisor.kill(NAME)
    service.supervisor.start(service.supervisor.spec(NAME))
    deadline = time.monotonic() + 10
    while True:  # the channel reconnects; the old token is still valid (the key is on disk)
        got = c.call("GetVacancy", {"Id": vid})
        if got.ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got.ok and got.response.vacancy.version == 2 and got.response.vacancy.Title == "again"
    c.close()


def test_flaw_no_auth(make_service) -> None:
    c = client_for(make_service(["no-auth"]))
    assert c.call("GetVacancies", {"page": 1, "limit": 5}, token=None).ok


def test_flaw_stale_read(make_service) -> None:
    c = signed_in(make_service(["stale-read"]))
    vid = c.call("CreateVacancy", {"Title": "a"}).response.vacancy.Id
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "b"}).response.vacancy.version == 2
    got = c.call("GetVacancy", {"Id": vid}).response.vacancy
    assert (got.Title, got.version) == ("a", 1)


def test_flaw_lost_delete(make_service) -> None:
    c = signed_in(make_service(["lost-delete"]))
    vid = c.call("CreateVacancy", {"Title": "a"}).response.vacancy.Id
    assert c.call("DeleteVacancy", {"Id": vid}).ok
    assert c.call("GetVacancy", {"Id": vid}).ok
