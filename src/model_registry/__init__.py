"""Async client for the Model Registry REST/gRPC API, with an embedded registry server."""

__version__ = "0.1.0"
