"""Where the system under test lives: the three base URLs of a `urls.json` file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shopbench.configfile import read_config
from shopbench.errors import UsageError

URL_KEYS = ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")


@dataclass(frozen=True)
class Target:
    order_url: str
    payment_url: str
    stock_url: str

    @classmethod
    def from_mapping(cls, data: object, source: str = "urls.json") -> Target:
        if not isinstance(data, dict):
            raise UsageError(f"{source}: expected a JSON object with keys {', '.join(URL_KEYS)}.")
        urls = {}
        for key in URL_KEYS:
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{source}: field {key} is missing; it must be a URL like http://127.0.0.1:8000.")
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(f"{source}: field {key} is {value!r}; it must be an http:// or https:// URL.")
            urls[key] = value.strip().rstrip("/")
        return cls(urls["ORDER_URL"], urls["PAYMENT_URL"], urls["STOCK_URL"])

    @classmethod
    def load(cls, path: str | Path) -> Target:
        return cls.from_mapping(read_config(path, "shop URLs"), str(path))

    def to_urls_json(self) -> dict[str, str]:
        return {"ORDER_URL": self.order_url, "PAYMENT_URL": self.payment_url, "STOCK_URL": self.stock_url}

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
