"""Answers of real shops read into the one canonical shape (driver/answers.py), or one sentence."""

import pytest

from shopbench.driver.answers import AnswerProblem, canonical, order_lines, read_answer, whole


@pytest.mark.parametrize(("items", "lines"), [
    ([["16", 2], ["3", 1]], [["16", 2], ["3", 1]]),                 # pairs (SHOP-API.md)
    (["16"], [["16", 1]]),                                           # one id per unit, not the pair ("1", 6)
    (["16", "3", "16"], [["16", 2], ["3", 1]]),
    ([16, 16], [["16", 2]]),                                         # integer ids
    ({"16": 2, "3": "1"}, [["16", 2], ["3", 1]]),                    # a map, a quantity as a string
    ([{"item_id": 7, "quantity": 2.0}], [["7", 2]]),                 # objects, 2.0 read as 2
    ([{"id": "a", "qty": "3"}], [["a", 3]]),
    ([["16", 1], ["16", 2]], [["16", 3]]),                           # a repeated item is one line
    ([], []),
    (None, []),
])
def test_every_clear_shape_of_order_lines_is_read(items, lines):
    assert order_lines(items) == lines


@pytest.mark.parametrize(("items", "fragment"), [
    ([["16", 1.5]], "items[0] (a quantity) is 1.5"),
    ([["16", 1, 2]], "items[0] is [\"16\",1,2]"),
    (["16", ["3", 1]], "mixes shapes"),
    ("16,3", "items is \"16,3\""),
    ([{"sku": "1", "quantity": 1}], "needs item_id or id"),
    ({"16": "two"}, "items[\"16\"] (a quantity) is \"two\""),
    ([None], "(an item id) is null"),
    ([True], "(an item id) is true"),
])
def test_an_unclear_shape_is_one_sentence_naming_the_field_and_value(items, fragment):
    with pytest.raises(AnswerProblem) as err:
        order_lines(items)
    assert fragment in str(err.value)


@pytest.mark.parametrize(("value", "number"), [(12, 12), ("12", 12), (1.0, 1), ("1.0", 1), (-3, -3), (" 7 ", 7),
                                                ("-2", -2)])
def test_whole_numbers_in_any_spelling(value, number):
    assert whole(value, "credit") == number


@pytest.mark.parametrize("value", [1.5, "1.5", True, "ten", None, float("nan"), "NaN", "inf", [], {}])
def test_a_number_that_is_not_whole_is_not_guessed(value):
    with pytest.raises(AnswerProblem, match="credit is .*; it must be a whole number"):
        whole(value, "credit")


def test_a_find_order_answer_is_canonical_and_keeps_extra_fields():
    raw = {"paid": 1, "items": ["16", "16"], "user_id": 4, "total_cost": "20.0", "created": "today"}
    assert canonical("find_order", raw) == {"paid": True, "items": [["16", 2]], "user_id": "4", "total_cost": 20,
                                            "created": "today"}
    assert canonical("find_order", {**raw, "paid": "false"})["paid"] is False


@pytest.mark.parametrize(("f", "raw", "fragment"), [
    ("find_order", {"items": [], "user_id": "1", "total_cost": 0}, "has no paid"),
    ("find_order", {"paid": "yes", "items": [], "user_id": "1", "total_cost": 0}, "paid is \"yes\""),
    ("find_item", {"stock": 1.5, "price": 1}, "stock is 1.5"),
    ("find_user", {"credit": None}, "credit is null"),
    ("find_user", [1], "must be a JSON object with credit"),
    ("create_item", {"item_id": 2.0}, "item_id is 2.0"),
])
def test_an_unclear_answer_names_field_and_value(f, raw, fragment):
    with pytest.raises(AnswerProblem) as err:
        canonical(f, raw)
    assert fragment in str(err.value)


def test_ids_and_bare_ids():
    assert canonical("create_item", {"item_id": 5}) == {"item_id": "5"}
    assert canonical("create_user", "u-1") == {"user_id": "u-1"}  # a bare id can mean nothing else
    assert canonical("add_stock", {"anything": 1.5}) == {"anything": 1.5}  # nothing is read from it


def test_read_answer_renames_fields_by_path_before_reading():
    body = b'{"data": {"balance": "30"}, "id": 9}'
    assert read_answer("find_user", body, {"credit": "data.balance"})["credit"] == 30
    assert read_answer("create_item", b'{"id": 9}', {"item_id": "id"})["item_id"] == "9"
    with pytest.raises(AnswerProblem, match="not JSON"):
        read_answer("find_item", b"<html>")
    assert read_answer("add_stock", b"<html>") is None  # nothing needed from it
