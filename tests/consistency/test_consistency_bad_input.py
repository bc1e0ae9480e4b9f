"""Bad input: one clear line and the right exit code, never a traceback."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from shopbench.cli.app import main
from shopbench.processes import free_port


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["consistency", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    text = " ".join(lines)
    assert "Traceback" not in text
    return text


def test_malformed_urls_json(tmp_path, capsys):
    urls = tmp_path / "urls.json"
    urls.write_text('{"ORDER_URL": "http://127.0.0.1:1", ')
    code, _, err = run(capsys, "--urls", str(urls), "--out", str(tmp_path / "run"))
    assert code == 2
    assert "urls.json" in one_line(err) and "not valid JSON" in err


def test_urls_json_missing_a_field(tmp_path, capsys):
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({"ORDER_URL": "http://127.0.0.1:1", "PAYMENT_URL": "http://127.0.0.1:1"}))
    code, _, err = run(capsys, "--urls", str(urls))
    assert code == 2 and "STOCK_URL" in one_line(err)


def test_bad_flags(tmp_path, capsys):
    code, _, err = run(capsys, "--orders", "0", "--out", str(tmp_path / "r"))
    assert code == 2 and "--orders" in one_line(err)
    code, _, err = run(capsys, "--populate", "magic")
    assert code == 2 and "--populate" in one_line(err)
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({k: "http://127.0.0.1:1" for k in ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")}))
    code, _, err = run(capsys, "--urls", str(urls), "--flaw", "lost-update", "--out", str(tmp_path / "r2"))
    assert code == 2 and "--flaw" in one_line(err)


def test_unreachable_target(tmp_path, capsys):
    port = free_port()
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({k: f"http://127.0.0.1:{port}" for k in ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")}))
    code, out, err = run(capsys, "--urls", str(urls), "--out", str(tmp_path / "run"), "--timeout", "2", "--json")
    assert code == 3
    text = one_line(err)
    assert f"127.0.0.1:{port}" in text and "cannot reach" in text
    assert out == ""
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["status"] == "error" and manifest["exit_code"] == 3


class Garbage(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html>hello, I am not a shop</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def garbage_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_target_answering_garbage(tmp_path, capsys, garbage_server):
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({k: garbage_server for k in ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")}))
    code, out, err = run(capsys, "--urls", str(urls), "--out", str(tmp_path / "run"), "--timeout", "2")
    assert code == 3
    text = one_line(err)
    assert garbage_server in text and "does not speak the shop API" in text


def test_out_directory_not_empty(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "something").write_text("x")
    code, _, err = run(capsys, "--out", str(out))
    assert code == 2 and "--out" in one_line(err)
