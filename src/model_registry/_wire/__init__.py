"""What the server and the client both speak on the wire, and nothing of either side.

The server (:mod:`model_registry.server`) and the client (:mod:`model_registry.transport`,
:mod:`model_registry.core`) may both import these modules; these modules import only the
generated code and the standard library, never a side. An import-linter contract
(``pyproject.toml``) and ``tests/server/test_server_imports.py`` hold that line.

- :mod:`model_registry._wire.proto`: protobuf messages of the gRPC API <-> REST wire dicts.
- :mod:`model_registry._wire.errors`: the error details the gRPC server puts in trailing
  metadata and the client reads back.
"""
