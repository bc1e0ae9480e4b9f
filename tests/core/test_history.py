import orjson
import pytest

from shopbench.errors import UsageError
from shopbench.history import HistoryWriter, MemoryHistory, Op, read_history, tee


def make_op(i, f="checkout", kind="ok"):
    return Op(i, "p1", f, {"order_id": str(i)}, None, kind, 200 if kind == "ok" else 400, None, None,
              1000.0 + i, 5.0 + i, 5.5 + i)


def test_writer_round_trips_every_field(tmp_path):
    path = tmp_path / "ops.jsonl"
    with HistoryWriter(path, flush_every=3) as writer:
        for i in range(10):
            writer(make_op(writer.next_id(), kind="ok" if i % 2 else "fail"))
    ops = read_history(path)
    assert [op["id"] for op in ops] == list(range(10))
    assert ops[1]["type"] == "ok" and ops[0]["type"] == "fail"
    assert ops[3]["args"] == {"order_id": "3"} and ops[3]["t1"] - ops[3]["t0"] == pytest.approx(0.5)


def test_truncated_last_line_is_skipped_but_corruption_elsewhere_is_reported(tmp_path):
    path = tmp_path / "ops.jsonl"
    good = orjson.dumps(make_op(0)).decode()
    path.write_text(good + "\n" + good[:20])
    assert len(read_history(path)) == 1
    path.write_text(good[:20] + "\n" + good + "\n")
    with pytest.raises(UsageError, match="line 1"):
        read_history(path)


def test_tee_feeds_every_listener_and_keeps_the_first_id_source():
    a, b = MemoryHistory(), MemoryHistory()
    both = tee(a, None, b)
    assert both.next_id() == 0 and both.next_id() == 1
    both(make_op(7))
    assert len(a.ops) == len(b.ops) == 1
