import json

import pytest

from shopbench.errors import UsageError
from shopbench.target import Target


def test_seed_urls_json_is_accepted_unchanged(tmp_path):
    path = tmp_path / "urls.json"
    path.write_text(json.dumps({"ORDER_URL": "http://127.0.0.1:8000", "PAYMENT_URL": "http://127.0.0.1:8000",
                                "STOCK_URL": "http://127.0.0.1:8000/"}))
    target = Target.load(path)
    assert target.order_url == "http://127.0.0.1:8000"
    assert target.stock_url == "http://127.0.0.1:8000"  # trailing slash dropped: paths are appended
    assert Target.from_mapping(target.to_urls_json()) == target


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"ORDER_URL": "http://a", "PAYMENT_URL": "http://a"}', "STOCK_URL is missing"),
        ('{"ORDER_URL": "ftp://a", "PAYMENT_URL": "http://a", "STOCK_URL": "http://a"}', "ORDER_URL is 'ftp://a'"),
    ],
)
def test_bad_urls_json_names_the_problem(tmp_path, content, fragment):
    path = tmp_path / "urls.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=fragment) as info:
        Target.load(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        Target.load(tmp_path / "nope.json")
