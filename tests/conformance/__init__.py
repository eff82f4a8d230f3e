"""REST conformance kit for the registry server behaviour tests.

Small helpers shared by ``tests/server/test_rest_*.py``: a thin HTTP wrapper that refuses
every 5xx (:mod:`conformance.http`), assertions for the wire shapes of COMPAT.md
(:mod:`conformance.checks`) and builders that create entities through the public REST API
(:mod:`conformance.entities`). Nothing here imports the server: the kit only speaks HTTP, so
the same tests could be pointed at any registry that claims the ``v1alpha3`` API.
"""
