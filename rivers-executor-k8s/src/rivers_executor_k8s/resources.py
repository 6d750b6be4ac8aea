"""Pod resources of one attempt, along one chain.

executor default (``worker_cpu`` / ``worker_memory`` / ``worker_gpu``)
→ asset (``rivers/k8s/cpu`` / ``rivers/k8s/memory`` / ``rivers/k8s/gpu``
metadata, then ``compute=rs.Compute(...)`` grown by its retry policy's
``escalate`` after out-of-memory attempts) → partition
(``partition_resources[asset](partition_key)``) → run-time override
(``step_resources[asset]``). Each level sets only what it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rivers.definitions.compute import Compute, compute_for_attempt
from rivers.exceptions import ConfigurationError

_FIELDS = ("cpu", "memory", "gpu")


def _as_fields(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Compute):
        return value.as_dict()
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            raise ConfigurationError(f"{where}: unknown resource(s) {unknown}; use cpu, memory, gpu")
        return Compute(**{k: v for k, v in value.items() if v is not None}).as_dict()
    raise ConfigurationError(f"{where} must be an rs.Compute or a mapping of cpu/memory/gpu, got {value!r}")


def attempt_compute(config: Any, planned: Any, failure_reasons: Sequence[Any], retry_default: Any,
                    partition: Any) -> dict[str, str]:
    """The ``{"cpu", "memory", "gpu"}`` quantities (those set) of the next attempt of ``planned``."""
    key = planned.runtime.key
    fields = config.default_compute.as_dict()
    metadata = planned.runtime.spec.metadata or {}
    fields.update(_as_fields({name: metadata.get(f"rivers/k8s/{name}") for name in _FIELDS
                              if metadata.get(f"rivers/k8s/{name}") is not None},
                             f"rivers/k8s/* metadata of asset '{key}'"))
    compute = compute_for_attempt(planned, failure_reasons, retry_default)
    fields.update(_as_fields(compute, f"compute of asset '{key}'"))
    function = config.partition_resources.get(key)
    if function is not None and partition is not None:
        fields.update(_as_fields(function(partition), f"partition_resources['{key}']({partition!r})"))
    fields.update(_as_fields(config.step_resources.get(key), f"step_resources['{key}']"))
    return fields


def pod_resources(fields: Mapping[str, str], gpu_resource: str) -> dict[str, dict[str, str]]:
    """Container ``resources``: cpu/memory requested; memory and GPU limited to the request."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if "cpu" in fields:
        requests["cpu"] = fields["cpu"]
    if "memory" in fields:
        requests["memory"] = limits["memory"] = fields["memory"]
    if "gpu" in fields:
        requests[gpu_resource] = limits[gpu_resource] = fields["gpu"]
    resources: dict[str, dict[str, str]] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources
