"""``python -m model_registry``: the ``model-registry`` command."""

from model_registry._entry import main

if __name__ == "__main__":
    raise SystemExit(main())
