"""The one HOST:PORT parser (configfile.parse_hostport) that links, the proxy's commands and its
command line share."""

from __future__ import annotations

import pytest

from shopbench.configfile import parse_hostport
from shopbench.errors import UsageError
from shopbench.nemesis.network import parse_links


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8002", ("127.0.0.1", 8002)),
    ("[::1]:8002", ("::1", 8002)),
    (":8002", ("127.0.0.1", 8002)),
    ("http://localhost:8002/", ("localhost", 8002)),
    ("h:1", ("h", 1)),
    ("h:65535", ("h", 65535)),
])
def test_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["nowhere", "h:0", "h:65536", "h:-1", "h:x", "", None])
def test_bad_addresses_are_a_value_error_naming_the_value(text: object) -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        parse_hostport(text)


def test_a_links_table_reports_a_bad_upstream_with_its_file_and_field() -> None:
    with pytest.raises(UsageError, match=r"services.json: links.a->b: upstream is 'b:0'; it must be HOST:PORT"):
        parse_links({"a->b": {"upstream": "b:0"}}, "services.json")
    assert parse_links({"a->b": "[::1]:9"}, "s.json")[0].upstream == ("::1", 9)


@pytest.mark.parametrize("links, message", [
    ({"a->b": {"upstream": "h:1", "listen": True}}, r"links.a->b: listen is True; it must be a port number"),
    ({"a->b": {"upstream": "h:1", "listen": 70000}}, r"links.a->b: listen is 70000; it must be a port number"),
    ({"a->b": {"listen": 5}}, r"links.a->b: field upstream is missing; it must be HOST:PORT"),
    ([{"upstream": "h:1"}], r"links\[0\] must be an object with name, upstream"),
    ({"a->b": "h:1", "a -> b": "h:2"}, r"links.a -> b: link 'a->b' appears twice"),
])
def test_bad_links_tables_name_the_entry_and_the_field(links: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_links(links, "services.json")


def test_links_tables_in_both_forms_give_the_same_links() -> None:
    as_object = parse_links({"order-service->stock-service": {"upstream": "http://127.0.0.1:80/", "listen": 9}}, "s")
    as_list = parse_links([{"name": "order->stock", "upstream": "127.0.0.1:80", "listen": 9}], "s")
    assert as_object == as_list and as_list[0].upstream == ("127.0.0.1", 80)
