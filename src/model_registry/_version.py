"""The version of the ``aio-model-registry`` distribution: the one place it is written.

``pyproject.toml`` reads it (hatchling's dynamic version), ``model_registry.__version__`` and
``model-registry --version`` show it.
"""

__version__ = "0.1.0"
