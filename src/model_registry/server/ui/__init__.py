"""The web UI: another front door of the registry server, served at ``/ui``.

Pages are rendered on the server from Jinja2 templates over what
:class:`~model_registry.server.service.RegistryService` returns (the same rules and errors as
the API; the UI never queries the store). See docs/ui.md.
"""

from model_registry.server.ui.views import UI_PREFIX, is_ui_request, setup_ui, wants_html

__all__ = ["UI_PREFIX", "is_ui_request", "setup_ui", "wants_html"]
