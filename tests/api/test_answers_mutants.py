"""driver/answers.py to the letter: the sentences a user reads about an unclear answer, and the
edges of each reading rule (found by mutation testing, docs/mutation.md)."""

import pytest

from shopbench.driver.answers import (
    ABSENT,
    AnswerProblem,
    at_path,
    canonical,
    entity_id,
    flag,
    order_lines,
    read_answer,
    rename,
    shown,
    whole,
)


def problem(fn, *args) -> str:
    with pytest.raises(AnswerProblem) as err:
        fn(*args)
    return str(err.value)


def test_a_value_is_quoted_as_json_and_cut_at_80_characters():
    assert shown({"a": [1, "x"]}) == '{"a":[1,"x"]}'
    assert shown({1: 2}) == '{"1":2}'  # a map with integer keys is still shown
    assert shown(b"ab") == "b'ab'"
    assert shown("x" * 78) == '"' + "x" * 78 + '"'  # 80 characters: whole
    assert shown("x" * 79) == '"' + "x" * 76 + "..."  # 81: cut to 80 with the dots
    assert len(shown(list(range(100)))) == 80


def test_the_sentence_for_a_number_that_is_not_whole():
    assert problem(whole, "1.5", "total_cost") == (
        'total_cost is "1.5"; it must be a whole number (amounts, prices and quantities are integers: 12, "12" '
        'and 12.0 are read as 12)')
    assert problem(whole, float("inf"), "price").startswith("price is ")
    assert whole(-4.0, "x") == -4 and type(whole(-4.0, "x")) is int and type(whole("5", "x")) is int


def test_an_id_is_a_non_empty_string_or_an_integer():
    assert entity_id("a", "k") == "a" and entity_id(0, "k") == "0"
    assert problem(entity_id, "", "user_id") == 'user_id is ""; it must be an id (a non-empty string or an integer)'
    assert problem(entity_id, False, "user_id").startswith("user_id is false;")
    assert problem(entity_id, 1.0, "order_id").startswith("order_id is 1.0;")


@pytest.mark.parametrize(("value", "read"), [(True, True), (False, False), (1, True), (0, False), ("true", True),
                                             (" TRUE ", True), ("1", True), ("False", False), ("0", False)])
def test_a_flag_in_any_spelling(value, read):
    assert flag(value, "paid") is read


@pytest.mark.parametrize("value", [2, -1, "yes", "", None, 1.0, [1]])
def test_a_flag_that_is_not_clear_is_one_sentence(value):
    assert problem(flag, value, "paid") == (f'paid is {shown(value)}; it must be true or false (1/0 and "true"/"false" '
                                            'are read too)')


def test_the_sentences_for_unclear_order_lines():
    assert problem(order_lines, ["16", ["3", 1]]) == (
        'items is ["16",["3",1]]; it mixes shapes: give every line as [item_id, quantity], or every line as an '
        "item id (one per unit), or an {item_id: quantity} map")
    assert problem(order_lines, [["16"]], "lines") == (
        'lines[0] is ["16"]; a line given as a list must be [item_id, quantity]')
    assert problem(order_lines, [{"item_id": "1"}]) == (
        'items[0] is {"item_id":"1"}; a line given as an object needs item_id or product_id or id and quantity or qty')
    assert problem(order_lines, [{"quantity": 1}]).startswith('items[0] is {"quantity":1}; a line given as an object')
    assert problem(order_lines, "16,3") == (
        'items is "16,3"; it must be a list of [item_id, quantity] lines, a list of item ids (one per unit), or an '
        "{item_id: quantity} map")
    assert problem(order_lines, 5).startswith("items is 5;")
    assert problem(order_lines, [["a", 1], ["b", "x"]]).startswith('items[1] (a quantity) is "x"')
    assert problem(order_lines, {"a": 1, "": 1}).startswith('items[""] (an item id) is ""')
    assert problem(order_lines, [{"item_id": "", "quantity": 1}]).startswith('items[0] (an item id) is ""')
    assert problem(order_lines, ["a", ""]).startswith('items[1] (an item id) is ""')


@pytest.mark.parametrize("items", [[{"item_id": "a", "quantity": 1}, "b"], ["b", {"item_id": "a", "quantity": 1}],
                                   [["a", 1], {"item_id": "a", "quantity": 1}], [["a", 1], "b"]])
def test_lines_of_two_shapes_are_never_read(items):
    assert "it mixes shapes" in problem(order_lines, items)


def test_an_object_line_takes_the_first_key_in_order():
    assert order_lines([{"id": "x", "item_id": "a", "qty": 5, "quantity": 2}]) == [["a", 2]]
    assert order_lines([{"product_id": "p", "id": "x", "qty": 3}]) == [["p", 3]]
    assert order_lines([{"item_id": 0, "quantity": 0}]) == [["0", 0]]  # falsy values are values
    assert order_lines([["a", 2], ["b", 1], ["a", 3]]) == [["a", 5], ["b", 1]]  # first appearance order
    assert order_lines({}) == []


def test_canonical_reads_each_required_field_and_keeps_the_rest():
    assert canonical("find_item", {"stock": "3", "price": 2.0, "name": "x"}) == {"stock": 3, "price": 2, "name": "x"}
    assert canonical("find_user", {"credit": "-1"}) == {"credit": -1}
    assert canonical("create_order", 7) == {"order_id": "7"}  # a bare id
    assert canonical("create_order", "o-1") == {"order_id": "o-1"}
    order = canonical("find_order", {"paid": "0", "items": {"a": "2"}, "user_id": 3, "total_cost": 1.0})
    assert order == {"paid": False, "items": [["a", 2]], "user_id": "3", "total_cost": 1}
    raw = {"item_id": 1}
    canonical("create_item", raw)
    assert raw == {"item_id": 1}  # the shop's answer itself is not changed


def test_the_sentences_for_an_unclear_answer():
    assert problem(canonical, "find_user", 5) == "the answer is 5; it must be a JSON object with credit"
    assert problem(canonical, "find_item", "3") == 'the answer is "3"; it must be a JSON object with stock, price'
    assert problem(canonical, "create_item", 1.5) == "the answer is 1.5; it must be a JSON object with item_id"
    assert problem(canonical, "create_item", "") == (
        'the answer is ""; it must be an id (a non-empty string or an integer)')
    assert problem(canonical, "find_order", {"user_id": "1", "total_cost": 0}) == (
        'the answer {"user_id":"1","total_cost":0} has no paid, items; it must carry paid, items, user_id, total_cost')
    assert problem(canonical, "find_order", {"paid": 1, "items": 3, "user_id": "1", "total_cost": 0}).startswith(
        "items is 3;")
    assert problem(canonical, "find_user", {"credit": True}).startswith("credit is true;")


def test_read_answer_parses_only_what_it_needs():
    assert read_answer("add_stock", b"") is None
    assert read_answer("add_stock", b"OK") is None
    assert read_answer("add_stock", b"[1, 2]") == [1, 2]
    assert read_answer("add_stock", b'{"a": 1}') == {"a": 1}
    assert read_answer("add_stock", b"{broken") is None  # not JSON, and nothing needed from it
    assert read_answer("", b"  ") is None
    assert read_answer("add_stock", b"7", {"n": "x"}) == 7  # a mapping reads the body even when it is not an object
    assert read_answer("create_item", b'"i-9"') == {"item_id": "i-9"}
    assert read_answer("find_item", b' {"stock": 1, "price": 2} ') == {"stock": 1, "price": 2}


def test_the_sentence_for_an_answer_that_is_not_json_or_empty():
    assert problem(read_answer, "find_item", b"<html>") == (
        "the answer is not JSON (b'<html>'); it must be a JSON object with stock, price")
    long = b"x" * 100
    assert problem(read_answer, "find_user", long) == (
        f"the answer is not JSON ({long[:80]!r}); it must be a JSON object with credit")
    assert problem(read_answer, "find_user", b"  ") == "the answer is null; it must be a JSON object with credit"


def test_rename_takes_our_fields_from_their_paths():
    assert rename({"data": {"balance": 3}}, {"credit": "data.balance"}) == {"data": {"balance": 3}, "credit": 3}
    assert rename({"a": 1}, {"credit": "data.balance"}) == {"a": 1}  # absent: left absent
    assert rename([5, 6], {"credit": "1"}) == {"credit": 6}
    assert rename({"a": None}, {"credit": "a", "x": "nope"}) == {"a": None, "credit": None}
    value = {"a": 1}
    assert rename(value, {"b": "a"}) == {"a": 1, "b": 1} and value == {"a": 1}


def test_a_dotted_path_through_objects_and_lists():
    answer = {"lines": [{"id": "a"}, {"id": "b"}], "n": 0}
    assert at_path(answer, "lines.1.id") == "b"
    assert at_path(answer, "lines.0") == {"id": "a"}
    assert at_path(answer, "n") == 0
    assert at_path(answer, "") is answer
    assert at_path(answer, "lines.2") is ABSENT  # one past the end
    assert at_path(answer, "lines.-1") is ABSENT
    assert at_path(answer, "lines.x") is ABSENT
    assert at_path(answer, "n.0") is ABSENT
    assert at_path(answer, "missing") is ABSENT
    assert at_path({"0": "k"}, "0") == "k"
