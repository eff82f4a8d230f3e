"""Sphinx configuration of the documentation site (``make docs``; MyST Markdown pages).

The pages are the Markdown files of ``docs/`` as they are (they render on the forge too); the
API reference (``api.md``) is generated from the docstrings by autodoc (Google style, through
napoleon). ``make docs`` builds with warnings as errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from model_registry._version import __version__  # noqa: E402  (after the path above)

project = "aio-model-registry"
author = "model-registry developers"
copyright = "the model-registry developers, Apache-2.0"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: heading anchors so that the pages' links to `page.md#heading` resolve as on the forge.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]

autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autoclass_content = "both"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = f"aio-model-registry {release}"
html_static_path: list[str] = []

# A class's "Attributes:" section lists its fields; as :ivar: fields they are not described a
# second time next to the members autodoc finds (dataclass fields).
napoleon_use_ivar = True

# Links from a page to a file outside docs/ (bench/README.md) have no page here; the links
# themselves are checked by tests/docs (test_relative_links_point_at_existing_pages_and_headings).
suppress_warnings = ["myst.xref_missing"]
