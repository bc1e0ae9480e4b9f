"""Where HTTP/1.x messages begin and end in one direction of a kept-alive connection, as the bytes
arrive: an incremental framer, not an HTTP stack. It reads only what framing needs (the start line,
Content-Length, Transfer-Encoding, the status) and passes every byte on unchanged.

    framer = Framer(request=True)
    for item in framer.feed(data):   # ("head", Head, raw head bytes) | ("data", bytes) | ("end",)
        ...

A head is emitted whole, with its bytes (held until complete, so a request can be stopped before
any byte of it goes on); body bytes are emitted as they come. Anything that is not HTTP/1.x (HTTP/2
and gRPC, TLS, a protocol where the server speaks first) makes the framer give up: `opaque` turns
true, `feed` returns the bytes as data and the connection is forwarded as plain bytes from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD = 64 * 1024  # a longer head is not one a framer should hold: give up, forward as bytes

HEAD, LENGTH, CHUNK_SIZE, CHUNK, TRAILER, UNTIL_CLOSE, OPAQUE = range(7)
Item = tuple  # ("head", Head, bytes) | ("data", bytes) | ("end",)


@dataclass
class Head:
    method: str = ""   # a request's
    path: str = ""
    status: int = 0    # a response's

    @property
    def interim(self) -> bool:
        """A 1xx answer other than 101: the real answer to the same request follows."""
        return 100 <= self.status < 200 and self.status != 101


class Framer:
    """One direction of one connection. `request_method()` (responses only) says the method of the
    request the next answer belongs to: the answer to a HEAD has no body whatever it announces."""

    def __init__(self, request: bool, request_method: Callable[[], str | None] | None = None):
        self.request = request
        self.request_method = request_method or (lambda: None)
        self.state = HEAD
        self.buf = bytearray()  # the head, or a chunk-size/trailer line, so far
        self.left = 0

    @property
    def opaque(self) -> bool:
        return self.state == OPAQUE

    def give_up(self) -> list[Item]:
        """Stop framing; what was held (part of a head) comes back as data."""
        held = bytes(self.buf) if self.state == HEAD else b""
        self.state, self.buf = OPAQUE, bytearray()
        return [("data", held)] if held else []

    def feed(self, data: bytes) -> list[Item]:
        out: list[Item] = []
        mv, i, n = memoryview(data), 0, len(data)
        while i < n:
            st = self.state
            if st in (OPAQUE, UNTIL_CLOSE):
                out.append(("data", bytes(mv[i:])))
                break
            if st == HEAD:
                if not self.buf:
                    s = i
                    while i < n and data[i] in b"\r\n":  # a stray CRLF between messages (RFC 9112 2.2)
                        i += 1
                    if i > s:
                        out.append(("data", bytes(mv[s:i])))
                    if i >= n:
                        break
                if not self.buf and (end := data.find(b"\r\n\r\n", i)) >= 0:
                    raw = data[i:end + 4]  # the usual case: a whole head in one read, copied once
                    i = end + 4
                else:
                    start = len(self.buf)
                    self.buf += mv[i:]
                    end = self.buf.find(b"\r\n\r\n", max(0, start - 3))
                    if end < 0:
                        if not self._plausible() or len(self.buf) > MAX_HEAD:
                            out += self.give_up()
                        break
                    raw = bytes(self.buf[:end + 4])
                    i += end + 4 - start
                    self.buf = bytearray()
                head = self._head(raw)
                if head is None:
                    self.buf = bytearray(raw)
                    out += self.give_up()
                    continue  # the rest goes on as data
                out.append(("head", head, raw))
                if self.state == HEAD:
                    out.append(("end",))
            elif st in (LENGTH, CHUNK):
                take = min(self.left, n - i)
                out.append(("data", data if take == n else bytes(mv[i:i + take])))
                i += take
                self.left -= take
                if self.left == 0:
                    if st == LENGTH:
                        self.state = HEAD
                        out.append(("end",))
                    else:
                        self.state = CHUNK_SIZE
            else:  # CHUNK_SIZE or TRAILER: one line
                j = data.find(b"\n", i)
                if j < 0:
                    self.buf += mv[i:]
                    out.append(("data", bytes(mv[i:])))
                    if len(self.buf) > MAX_HEAD:
                        self.state = OPAQUE
                    break
                line = bytes(self.buf) + bytes(mv[i:j + 1])
                out.append(("data", bytes(mv[i:j + 1])))
                self.buf = bytearray()
                i = j + 1
                text = line.strip()
                if st == TRAILER:
                    if not text:
                        self.state = HEAD
                        out.append(("end",))
                    continue
                try:
                    size = int(text.split(b";", 1)[0], 16)
                except ValueError:
                    self.state = OPAQUE  # the stream is not what we thought: stop reading it
                    continue
                if size == 0:
                    self.state = TRAILER
                else:
                    self.state, self.left = CHUNK, size + 2  # the chunk's bytes and its CRLF
        return out

    def eof(self) -> list[Item]:
        """The sender closed: a body read until close ends here."""
        if self.state == UNTIL_CLOSE:
            self.state = HEAD
            return [("end",)]
        return []

    def _plausible(self) -> bool:
        """Could the bytes so far begin an HTTP/1.x message? (Decided early, so a TLS hello or a
        server-first protocol is not held waiting for a blank line that never comes.)"""
        start = bytes(self.buf[:18])
        if not self.request:
            return start[:7] == b"HTTP/1."[:len(start[:7])]
        sp = start.find(b" ")
        token = start if sp < 0 else start[:sp]
        return len(token) <= 16 and (not token or (token.isalpha() and token.isupper())) and (sp != 0)

    def _head(self, raw: bytes) -> Head | None:
        parts = raw[:raw.find(b"\r\n")].split(b" ", 2)
        low = raw.lower()  # only the two headers framing needs are looked up, not every header parsed
        te = _header(low, b"\r\ntransfer-encoding:", last=True)
        chunked = te is not None and te.rsplit(b",", 1)[-1].strip() == b"chunked"
        length = _header(low, b"\r\ncontent-length:")
        if length is not None and not length.isdigit():
            return None
        if self.request:
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                return None
            head = Head(method=parts[0].decode("latin-1"), path=parts[1].decode("latin-1"))
            self._body(chunked, length, until_close=False)
            return head
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            return None
        head = Head(status=int(parts[1]))
        if head.status == 101:
            self.state = OPAQUE  # switched protocols: not HTTP/1 any more
        elif head.interim or head.status in (204, 304) or self.request_method() == "HEAD":
            self.state = HEAD
        else:
            self._body(chunked, length, until_close=True)
        return head

    def _body(self, chunked: bool, length: bytes | None, until_close: bool) -> None:
        if chunked:
            self.state = CHUNK_SIZE
        elif length is not None and int(length) > 0:
            self.state, self.left = LENGTH, int(length)
        elif length is None and until_close:
            self.state = UNTIL_CLOSE
        else:
            self.state = HEAD


def _header(low: bytes, name: bytes, last: bool = False) -> bytes | None:
    """The value of header `name` (b"\\r\\nname:") in the lower-cased head `low` (the first, or the
    last: of Transfer-Encoding only the last coding says whether a body is chunked)."""
    at = low.rfind(name) if last else low.find(name)
    if at < 0:
        return None
    start = at + len(name)
    return low[start:low.find(b"\r\n", start)].strip()


__all__ = ["Framer", "Head"]
