"""A TCP fault proxy: one listener per named link, forwarding bytes, with toxics switched on and
off while traffic flows. It forwards bytes and knows nothing of HTTP, so it serves any wire.

    proxy = LinkProxy.start({"order->payment": ("127.0.0.1", 8002)})   # a child process
    proxy.port("order->payment")                 # point the order service's payment URL here
    proxy.set("order->payment", latency_ms=200, jitter_ms=20)
    proxy.set("order->payment", down=True)       # a partition: refused, existing connections reset
    proxy.clear("order->payment")
    proxy.stop()                                 # (the proxy also exits when shopbench does)

The package, by job:
  dataplane.py   links, connections and toxics (the bytes; the toxics are listed there)
  control.py     ProxyServer: the links and the control channel in one asyncio loop
  client.py      ProxyClient (the control channel's blocking client), LinkProxy (the child process)
  __main__.py    `python -m shopbench.nemesis.proxy`, the child's command line

Why a child process and not a thread: the load generator monkey-patches the process with gevent
(Locust). Under it, `threading.Thread` is a greenlet and `selectors` is gevent's select(), so an
asyncio loop "in a thread" would share one OS thread and the hub with the load, and every byte it
forwards would compete with the clients for the GIL on a 2-core machine. A child process has its
own interpreter, its own GIL and a plain epoll loop, whatever its parent patched (uvloop when
installed). It is controlled over a loopback TCP socket with one JSON object a line (so a later
command, or another process, can reach it too), and it exits when its standard input closes, so it
never outlives the shopbench that started it, even after a SIGKILL.
"""

from shopbench.nemesis.proxy.client import LinkProxy, ProxyClient, ProxyError
from shopbench.nemesis.proxy.control import ProxyServer
from shopbench.nemesis.proxy.dataplane import HOST, TOXIC_FIELDS, Link, Toxics

__all__ = ["HOST", "TOXIC_FIELDS", "Link", "LinkProxy", "ProxyClient", "ProxyError", "ProxyServer", "Toxics"]
