"""Where the system under test lives: the three base URLs of a `urls.json` file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopbench.configfile import read_config, validate

URL_KEYS = ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")
_URL = "an http:// or https:// URL like http://127.0.0.1:8000"


class UrlsFile(BaseModel):
    """Seed 000's urls.json, exactly: the three base URLs (other keys are ignored)."""

    model_config = ConfigDict(extra="ignore")

    ORDER_URL: str = Field(description=_URL)
    PAYMENT_URL: str = Field(description=_URL)
    STOCK_URL: str = Field(description=_URL)

    @field_validator("ORDER_URL", "PAYMENT_URL", "STOCK_URL")
    @classmethod
    def _http(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http:// or https:// URL")
        return v.strip().rstrip("/")


@dataclass(frozen=True)
class Target:
    order_url: str
    payment_url: str
    stock_url: str

    @classmethod
    def from_mapping(cls, data: object, source: str = "urls.json") -> Target:
        urls = validate(UrlsFile, data, source, shape="{" + ", ".join(f'"{k}": "http://..."' for k in URL_KEYS) + "}")
        return cls(urls.ORDER_URL, urls.PAYMENT_URL, urls.STOCK_URL)

    @classmethod
    def load(cls, path: str | Path) -> Target:
        return cls.from_mapping(read_config(path, "shop URLs"), str(path))

    def to_urls_json(self) -> dict[str, str]:
        return {"ORDER_URL": self.order_url, "PAYMENT_URL": self.payment_url, "STOCK_URL": self.stock_url}

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
