"""Prometheus metrics of the config API."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

REGISTRY = CollectorRegistry()
OBJECTS = Gauge("filament_config_objects", "Config objects by type", ["type"], registry=REGISTRY)
REVISION = Gauge("filament_config_revision", "Current store revision", registry=REGISTRY)
WATCHERS = Gauge("filament_config_watchers", "Open watch streams", registry=REGISTRY)


def observe(service, hub) -> None:
    for type_, objs in service.graph.by_type.items():
        OBJECTS.labels(type_).set(len(objs))
    REVISION.set(service.graph.revision)
    WATCHERS.set(len(hub.subs))
