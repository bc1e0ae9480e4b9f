"""A TCP fault proxy: one listener per named link, forwarding bytes, with toxics switched on and
off while traffic flows. It forwards bytes and knows nothing of HTTP, so it serves any wire.

    proxy = LinkProxy.start({"order->payment": ("127.0.0.1", 8002)})   # a child process
    proxy.port("order->payment")                 # point the order service's payment URL here
    proxy.add_toxic("order->payment", "slow", "upstream", latency_ms=200, jitter_ms=20)
    proxy.add_toxic("order->payment", "cut", down=True)  # a partition: refused, existing connections reset
    proxy.remove_toxic("order->payment", "slow")  # the cut stays
    proxy.set("order->payment", rate=10_000)     # (by hand: the toxic named "set", changed in place)
    proxy.clear("order->payment")                # every toxic
    proxy.stop()                                 # (the proxy also exits when shopbench does)

The package, by job:
  link.py        a link: its listener, its named toxics, its request positions
  dataplane.py   its connections: the bytes, shaped by the link's toxics
  toxics.py      named toxics per stream (Toxiproxy's model) and what they add up to
  framing.py     where HTTP/1.x messages begin and end on a connection
  positions.py   request positions: numbered requests, events, armed modes, holds
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
never outlives the shopbench that started it, even after a SIGKILL. It runs in a session of its own
and ignores SIGINT: a terminal's Ctrl-C is for shopbench, which heals and settles through the links
before it ends the proxy (SIGTERM, by pid).
"""

from shopbench.nemesis.proxy.client import LinkProxy, ProxyClient, ProxyError
from shopbench.nemesis.proxy.control import ProxyServer
from shopbench.nemesis.proxy.dataplane import HOST
from shopbench.nemesis.proxy.link import Link
from shopbench.nemesis.proxy.toxics import STREAMS, TOXIC_FIELDS, Toxic, Toxics

__all__ = ["HOST", "STREAMS", "TOXIC_FIELDS", "Link", "LinkProxy", "ProxyClient", "ProxyError", "ProxyServer", "Toxic",
           "Toxics"]
