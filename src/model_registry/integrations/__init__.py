"""Bridges between the registry and other ML tools.

Each integration lives in its own subpackage and needs its own extra, e.g.
``pip install 'aio-model-registry[mlflow]'`` for :mod:`model_registry.integrations.mlflow`.
"""
