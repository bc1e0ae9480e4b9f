"""Seed 004's flow on the seed's messages (nested enum, optional update fields, timestamps), token
lifetimes where the API does not say them, and the auth probe's plan."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from shopbench.errors import UsageError
from shopbench.grpc.probe import PROTECTED, PUBLIC, probe_plan
from shopbench.grpc.protos import compile_dir
from shopbench.workload.seed004 import create_request, token_lifetime, update_request, vacancy_value

CATALOG = compile_dir(Path(__file__).resolve().parent / "seed_repo" / "proto")
CLIENT = SimpleNamespace(catalog=CATALOG)


def test_requests_from_the_seed_messages() -> None:
    rng = random.Random(4)
    create = create_request(CLIENT, rng)
    assert set(create) == {"Title", "Description", "Division", "Country"} and create["Division"] in (0, 1, 2, 3)
    current = CATALOG.message("pb.Vacancy")(Id="v", **create)
    subsets = set()
    for _ in range(200):
        update = update_request(CLIENT, rng, "v", current)
        fields = set(update) - {"Id"}
        assert update["Id"] == "v" and fields  # a non-empty subset
        assert all(update[f] != getattr(current, f) for f in fields)  # each field really changes
        CATALOG.method("UpdateVacancy").request(**update)  # a valid request of the seed's message
        subsets.add(frozenset(fields))
    assert len(subsets) > 10 and frozenset({"Title", "Description", "Views", "Division", "Country"}) in subsets


def test_what_a_read_records_from_a_seed_vacancy() -> None:
    v = CATALOG.message("pb.Vacancy")(Id="v", Title="t", Views=3, updated_at={"seconds": 2, "nanos": 5})
    value = vacancy_value(v)
    assert value["id"] == "v" and value["updated_at"] == 2_000_000_005 and "version" not in value
    assert vacancy_value(CATALOG.message("pb.Vacancy")(Id="v", Title="t", Views=9))["digest"] == value["digest"]
    assert vacancy_value(CATALOG.message("pb.Vacancy")(Id="v", Title="u"))["digest"] != value["digest"]


def jwt(claims: dict) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.sig"


def test_token_lifetime_from_the_answer_else_the_jwt() -> None:
    assert token_lifetime(SimpleNamespace(expires_in=30), "opaque") == (30.0, "expires_in")
    seconds, source = token_lifetime(SimpleNamespace(), jwt({"exp": time.time() + 60}))
    assert 58 < seconds <= 60 and source == "the token's exp claim"
    assert token_lifetime(SimpleNamespace(), "opaque-token") == (0.0, "")
    assert token_lifetime(SimpleNamespace(), jwt({"sub": "x"})) == (0.0, "")


def test_the_probe_plan_expects_the_sign_in_service_public_by_default() -> None:
    plan, source = probe_plan(CATALOG)
    expected = {name: how for name, _, how in plan}
    assert "SignInUser" not in expected and "pb.AuthService" in source
    assert expected == {"SignUpUser": PUBLIC, "VerifyEmail": PUBLIC, "GetMe": PROTECTED, "CreateVacancy": PROTECTED,
                        "GetVacancy": PROTECTED, "GetVacancies": PROTECTED, "UpdateVacancy": PROTECTED,
                        "DeleteVacancy": PROTECTED}
    plan, source = probe_plan(CATALOG, ["GetMe"])
    assert {name for name, _, how in plan if how == PUBLIC} == {"GetMe"} and source == "--public GetMe"
    with pytest.raises(UsageError, match="--public Nope: the service declares no such RPC; its RPCs are CreateVacancy"):
        probe_plan(CATALOG, ["Nope"])
