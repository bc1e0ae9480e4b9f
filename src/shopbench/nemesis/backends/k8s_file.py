"""The Kubernetes services file (`--fault-backend k8s --services-file k8s.toml`): the namespace,
the kubeconfig context, and each service's label selector; and the API client it names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopbench.configfile import read_config, validate
from shopbench.errors import TargetError

SELECTOR_PART = re.compile(r"^([A-Za-z0-9_./-]+)=([A-Za-z0-9_.-]*)$")


class K8sService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selector: str = Field(description="a label selector of equalities, e.g. app=order or app=shop,tier=order")
    deployment: str | None = Field(default=None, description="the name of the service's Deployment (for restart)")

    @field_validator("selector")
    @classmethod
    def _equalities(cls, value: str) -> str:
        labels(value)
        return value


class K8sFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str = Field(default="default", description="a Kubernetes namespace")
    context: str | None = Field(default=None, description="a context of your kubeconfig")
    kubeconfig: str | None = Field(default=None, description="the path of a kubeconfig file")
    services: dict[str, K8sService] = Field(description="a table of services, each with a selector")


def labels(selector: str) -> dict[str, str]:
    """`app=order,tier=web` as a map (what a Chaos Mesh selector takes); ValueError otherwise."""
    out = {}
    for part in selector.split(","):
        m = SELECTOR_PART.match(part.strip())
        if m is None:
            raise ValueError(f"{part.strip()!r} is not a label equality (key=value); set-based selectors are not "
                             "supported")
        out[m.group(1)] = m.group(2)
    return out


def load_k8s_file(path: str | Path) -> K8sFile:
    return validate(K8sFile, read_config(path, "Kubernetes services file", toml=True), str(path),
                    shape='{"namespace": "...", "services": {"order": {"selector": "app=order"}}}')


def api_client(spec: K8sFile, base: Path) -> Any:
    """A client from the kubeconfig (the file's, $KUBECONFIG or ~/.kube/config), or the pod's own
    service account when shopbench runs inside the cluster and no kubeconfig is named."""
    from kubernetes import client, config

    cfg = client.Configuration()
    kubeconfig = spec.kubeconfig and str((base / os.path.expanduser(spec.kubeconfig)).resolve())
    try:
        if kubeconfig is None and spec.context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(config_file=kubeconfig, context=spec.context, client_configuration=cfg)
    except (config.ConfigException, OSError) as exc:
        raise TargetError(f"cannot load the Kubernetes configuration ({exc}); name a kubeconfig or context in the "
                          "services file.") from None
    return client.ApiClient(cfg)
