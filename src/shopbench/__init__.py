"""shopbench: load-test a transactional shop, inject faults under load, and check it lost nothing.

The extension points are importable from here. Names that need Locust (`ShopUser`) are loaded on
first use, so `import shopbench` never imports Locust (which monkey-patches the process with gevent).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name -> module that defines it, imported on first access
_LAZY = {
    "ShopUser": "shopbench.locust_plugin.user",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shopbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
