"""The documentation site builds without a warning and documents every public name.

The same build as ``make docs`` (Sphinx, MyST pages, autodoc with napoleon, ``-W``), into a
temporary directory; the inventory it writes (``objects.inv``) lists what it documents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile

import model_registry
from model_registry import server

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_site_builds_with_warnings_as_errors_and_documents_every_public_name(
    tmp_path: Path,
) -> None:
    out = tmp_path / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    with (out / "objects.inv").open("rb") as handle:
        inventory = InventoryFile.load(handle, "", lambda base, uri: uri)
    documented = {name for entries in inventory.values() for name in entries}

    def where(name: str, owner: object) -> str:
        value = getattr(owner, name)
        return f"{value.__module__}.{value.__qualname__}" if hasattr(value, "__qualname__") else ""

    public = [n for n in model_registry.__all__ if n != "__version__"]
    missing = [
        name for name in public if not any(entry.endswith(f".{name}") for entry in documented)
    ]
    assert missing == []
    assert {f"model_registry.server.{n}" for n in server.__all__} <= documented
    # Every guide page is part of the site.
    pages = {path.stem for path in DOCS.glob("*.md")}
    assert pages <= {entry for entry in inventory.get("std:doc", {})}
    assert "ModelRegistryAPIClient" in (out / "api.html").read_text()
    assert where("ModelRegistryAPIClient", model_registry) in documented
