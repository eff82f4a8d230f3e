"""Transports: how the core client reaches a registry (REST or gRPC), behind one interface."""

from model_registry.transport.base import Transport

__all__ = ["Transport"]
