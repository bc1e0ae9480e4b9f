"""The services behind the proxy in test_request_positions.py: the same small API on aiohttp
(`python positions_app.py PORT LOG`) and on gunicorn's threaded worker (`gunicorn positions_app:wsgi`
with POSITIONS_LOG set). Every request that reaches the service appends `METHOD PATH BODY` to LOG
before it is answered, so a test can tell "delivered" from "never delivered".

  POST /echo       answers its body (Content-Length)
  GET  /chunked    a chunked answer (three chunks)
  GET  /slow       answers after 0.3 s
  anything else    "ok"
"""

from __future__ import annotations

import os
import sys
import time


def _log(path: str, method: str, target: str, body: bytes) -> None:
    with open(path, "ab") as f:
        f.write(f"{method} {target} ".encode() + body.replace(b"\n", b" ") + b"\n")


def wsgi(environ, start_response):  # gunicorn -k gthread: kept-alive connections, chunked answers
    body = environ["wsgi.input"].read()
    path = environ["PATH_INFO"]
    _log(os.environ["POSITIONS_LOG"], environ["REQUEST_METHOD"], path, body)
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])  # no length: gunicorn chunks it
        return iter([b"one,", b"two,", b"three"])
    if path == "/slow":
        time.sleep(0.3)
    out = body if path == "/echo" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


def main() -> None:
    from aiohttp import web

    port, log = int(sys.argv[1]), sys.argv[2]

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        _log(log, request.method, request.path_qs, body)
        if request.path == "/chunked":
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for part in (b"one,", b"two,", b"three"):
                await resp.write(part)
            await resp.write_eof()
            return resp
        if request.path == "/slow":
            import asyncio

            await asyncio.sleep(0.3)
        return web.Response(body=body if request.path == "/echo" else b"ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
