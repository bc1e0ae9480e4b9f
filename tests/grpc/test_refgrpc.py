"""The reference gRPC service, over real gRPC: auth, CRUD with versions, list pages, health,
reflection, durability across SIGKILL, and each flaw doing what it says."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import compile_dir
from shopbench.grpc.service import NAME, reference_protos
from shopbench.history import MemoryHistory
from shopbench.workload.seed004 import Login

CATALOG = compile_dir(reference_protos())


def client_for(service, history=None) -> GrpcClient:
    return GrpcClient(service.target, CATALOG, history if history is not None else MemoryHistory(), "t")


def signed_in(service) -> GrpcClient:
    c = client_for(service)
    assert Login(service.creds[0]).sign_in(c)
    return c


def test_sign_in_and_tokens(make_service) -> None:
    service = make_service(token_ttl=1.5)
    c = client_for(service)
    bad = c.call("SignInUser", {"email": service.creds[0].email, "password": "wrong"}, token=None)
    assert bad.code == "UNAUTHENTICATED"
    ok = c.call("SignInUser", {"email": service.creds[1].email, "password": service.creds[1].password}, token=None)
    assert ok.ok and ok.response.access_token and ok.response.refresh_token and ok.response.expires_in == 1
    c.token = ok.response.access_token
    assert c.call("GetVacancies", {"page": 1, "limit": 10}).ok
    assert c.call("GetVacancies", {"page": 1, "limit": 10}, token=None).code == "UNAUTHENTICATED"
    assert c.call("GetVacancies", {"page": 1, "limit": 10}, token="garbage").code == "UNAUTHENTICATED"
    assert c.call("GetVacancies", {"page": 1, "limit": 10}, token=ok.response.refresh_token).code == "UNAUTHENTICATED"
    time.sleep(1.7)
    assert c.call("GetVacancies", {"page": 1, "limit": 10}).code == "UNAUTHENTICATED"  # expired
    fresh = c.call("RefreshAccessToken", {"refresh_token": ok.response.refresh_token}, token=None)
    assert fresh.ok
    assert c.call("GetVacancies", {"page": 1, "limit": 10}, token=fresh.response.access_token).ok
    c.close()


def test_crud_versions_and_pages(make_service) -> None:
    c = signed_in(make_service())
    made = [c.call("CreateVacancy", {"Title": f"t{i}", "Country": "LT", "Division": 1}).response.vacancy
            for i in range(5)]
    assert [v.Version for v in made] == [1] * 5
    vid = made[0].Id
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "u", "Views": 7}).response.vacancy.Version == 2
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "v"}).response.vacancy.Version == 3
    got = c.call("GetVacancy", {"Id": vid}).response.vacancy
    assert (got.Title, got.Version) == ("v", 3)
    page2 = c.call("GetVacancies", {"page": 2, "limit": 2}).response
    assert [v.Id for v in page2.vacancies] == [made[2].Id, made[3].Id] and page2.total == 5
    assert c.call("GetVacancies", {"page": 0, "limit": 2}).code == "INVALID_ARGUMENT"
    assert c.call("CreateVacancy", {}).code == "INVALID_ARGUMENT"
    assert c.call("DeleteVacancy", {"Id": vid}).ok
    assert c.call("GetVacancy", {"Id": vid}).code == "NOT_FOUND"
    assert c.call("DeleteVacancy", {"Id": vid}).code == "NOT_FOUND"
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "x"}).code == "NOT_FOUND"
    c.close()


def test_health_and_reflection(make_service) -> None:
    service = make_service()
    with grpc.insecure_channel(service.target) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="vacancy.VacancyService"), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                 timeout=5))
        names = {s.name for s in answers[0].list_services_response.service}
    assert {"auth.AuthService", "vacancy.VacancyService"} <= names


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
    assert got.ok and got.response.vacancy.Version == 2
    c.close()


def test_flaw_no_auth(make_service) -> None:
    c = client_for(make_service(["no-auth"]))
    assert c.call("GetVacancies", {"page": 1, "limit": 5}, token=None).ok


def test_flaw_stale_read(make_service) -> None:
    c = signed_in(make_service(["stale-read"]))
    vid = c.call("CreateVacancy", {"Title": "a"}).response.vacancy.Id
    assert c.call("UpdateVacancy", {"Id": vid, "Title": "b"}).response.vacancy.Version == 2
    assert c.call("GetVacancy", {"Id": vid}).response.vacancy.Version == 1


def test_flaw_lost_delete(make_service) -> None:
    c = signed_in(make_service(["lost-delete"]))
    vid = c.call("CreateVacancy", {"Title": "a"}).response.vacancy.Id
    assert c.call("DeleteVacancy", {"Id": vid}).ok
    assert c.call("GetVacancy", {"Id": vid}).ok
