"""Mapping files (driver/mapping.py): validated through configfile's one path, templates filled."""

import pytest

from shopbench.driver import DRIVER_ENV, MAPPING_ENV, RestDriver, driver_class, use_driver
from shopbench.driver.mapping import MappingDriver, fill, load_mapping
from shopbench.errors import UsageError


@pytest.fixture(autouse=True)
def _no_driver_leaks(monkeypatch):
    for name in (DRIVER_ENV, MAPPING_ENV):  # use_driver sets them: set first, so teardown removes them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def problem(tmp_path, text):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        load_mapping(path)
    return str(err.value).replace(str(path), "m.toml")


@pytest.mark.parametrize(("text", "sentence"), [
    ('[find_usr]\nmethod = "GET"\npath = "/x"', "m.toml: find_usr is not a known field; allowed: shop, create_item"),
    ('[find_user]\nmethod = "GET"', "m.toml: find_user is {'method': 'GET'}: method and path are needed"),
    ('[find_user]\nmethod = "GET"\npath = "/c/{usr}"', "m.toml: find_user uses {usr}, which find_user does not have; "
                                                        "it has {user_id}"),
    ('[find_user]\nmethod = "GOT"\npath = "/x"', "m.toml: find_user.method is 'GOT'; it must be an HTTP method"),
    ('[find_user]\nmethod = "GET"\npath = "x"', "m.toml: find_user.path is 'x'; it must be a path starting with"),
    ('[shop]\ncart = { line = { p = "{item_id}" } }\n[create_order]\nmethod = "POST"\npath = "/o"',
     "m.toml: create_order is the client-side cart's when [shop] cart is given"),
    ('[checkout]\nsteps = [{ method = "POST", path = "/o" }, { method = "POST", path = "/p/{lines}" }]',
     "m.toml: checkout.steps[1] uses {lines}, which checkout does not have"),
    ('[find_user]\nmethod = "GET"\npath = "/x"\nsteps = []',
     "m.toml: find_user is {'method': 'GET', 'path': '/x', 'steps': []}: steps replaces"),
    ("[find_user\n", "m.toml: not valid TOML"),
])
def test_a_wrong_mapping_is_one_sentence_naming_the_field(tmp_path, text, sentence):
    assert problem(tmp_path, text).startswith(sentence)


def test_templates_keep_json_types_and_quote_paths():
    values = {"price": 5, "lines": [{"p": 1}], "item_id": "a b/c", "prev": {"id": 7}}
    assert fill({"price": "{price}", "lines": "{lines}", "note": "n{price}"}, values) == \
        {"price": 5, "lines": [{"p": 1}], "note": "n5"}
    assert fill("/products/{item_id}/x", values, url=True) == "/products/a%20b%2Fc/x"
    assert fill("/orders/{prev.id}/pay", values, url=True) == "/orders/7/pay"


def test_the_example_mapping_is_valid_and_becomes_the_driver(tmp_path):
    use_driver(None, mapping="examples/orders_inventory.toml")
    cls = driver_class()
    assert issubclass(cls, MappingDriver) and cls.mapping.find_user.fields == {"credit": "balance"}
    with pytest.raises(UsageError, match="give --driver or --mapping, not both"):
        use_driver("examples/wdm2023_driver.py:Wdm2023Driver", mapping="examples/orders_inventory.toml")


class OneProcessDriver(RestDriver):
    state_in_process = True


def test_a_driver_with_state_in_one_process_refuses_processes_and_workers():
    spec = f"{__file__}:OneProcessDriver"
    use_driver(spec)  # one process: fine
    with pytest.raises(UsageError, match="keeps state in one process .* --processes 2 would split"):
        use_driver(spec, processes=2)
    with pytest.raises(UsageError, match="--worker would split"):
        use_driver(spec, worker=True)
    use_driver("examples/wdm2023_driver.py:Wdm2023Driver", processes=2)  # the default: process-safe


def test_a_draft_from_the_openapi_of_the_orders_app_is_the_example_but_its_answer_fields(tmp_path, capsys):
    """FastAPI's own document of tests/api/orders_app.py: every route the example maps is found; the
    answer fields (the app declares no response schema) are TODOs for the user."""
    import json
    import sys
    from pathlib import Path

    from shopbench.cli.app import main

    pytest.importorskip("fastapi")
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import orders_app
    finally:
        sys.path.pop(0)
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(orders_app.app.openapi()))
    assert main(["mapping", "draft", "--openapi", str(doc), "--out", str(tmp_path / "draft.toml")]) == 0
    drafted = load_mapping(tmp_path / "draft.toml")  # valid as it is
    example = load_mapping("examples/orders_inventory.toml")
    for f in ("create_item", "add_stock", "subtract_stock", "find_item", "create_user", "add_funds", "pay",
              "find_user", "checkout", "find_order"):
        assert drafted_requests(drafted, f) == drafted_requests(example, f), f
    assert drafted.shop.cart == example.shop.cart
    assert "# TODO: where is credit in the answer?" in (tmp_path / "draft.toml").read_text()
    assert main(["mapping", "draft", "--openapi", str(doc), "--out", str(tmp_path / "draft.toml")]) == 2
    assert "the file exists" in capsys.readouterr().err


def drafted_requests(mapping, f):
    return [(s.method, s.path, s.json_body) for s in getattr(mapping, f).requests()]


def test_a_cart_operation_on_no_open_cart_is_refused_without_a_request():
    from shopbench.driver.mapping import mapping_driver
    from shopbench.history import MemoryHistory

    class NoTransport:
        def request(self, *a, **k):
            raise AssertionError("nothing may be sent")

        def close(self):
            pass

    history = MemoryHistory()
    driver = mapping_driver("examples/orders_inventory.toml")(NoTransport(), history)
    order = driver.create_order("u1", expect="ok")
    assert order.kind == "ok" and len(order.data["order_id"]) == 32  # a UUID: the same in every process
    assert driver.add_item(order.data["order_id"], "i1", 2).kind == "ok"
    assert driver.remove_item(order.data["order_id"], "i9").kind == "fail"  # no such line
    assert driver.add_item("no-such-order", "i1", 1, "fail").kind == "fail"
    assert [(o.f, o.type, o.expect) for o in history.ops] == [
        ("create_order", "ok", "ok"), ("add_item", "ok", None), ("remove_item", "fail", None),
        ("add_item", "fail", "fail")]
    assert history.ops[2].error.startswith("not sent:")


def test_a_checkout_whose_every_step_needs_the_cart_is_refused_when_there_is_none(tmp_path):
    from shopbench.driver.mapping import mapping_driver
    from shopbench.history import MemoryHistory

    path = tmp_path / "m.toml"
    path.write_text('[shop]\ncart = { line = { id = "{item_id}", n = "{quantity}" } }\n'
                    '[checkout]\nmethod = "POST"\npath = "/buy"\njson = { user = "{user_id}", lines = "{lines}" }\n')

    class NoTransport:
        def request(self, *a, **k):
            raise AssertionError("nothing may be sent")

    history = MemoryHistory()
    out = mapping_driver(path)(NoTransport(), history).checkout("gone", expect="fail")
    assert out.kind == "fail" and "not an open cart" in out.error and history.ops[0].type == "fail"
