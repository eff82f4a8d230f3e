"""Run the examples of README.md and docs/*.md against a real server.

A fenced block runs when the line right before its opening fence is an HTML comment
``<!-- run -->`` (the comment does not show on rendered pages). Options after a colon:

- ``<!-- run: continue -->``: the block continues the previous runnable block of the same file:
  same globals, same event loop, same server (so a page can build a client once and use it in
  later blocks);
- ``<!-- run: secure -->``: the group runs against a server with TLS and a bearer token.

``python`` blocks are executed; top-level ``await`` / ``async for`` / ``async with`` are
allowed and run on one event loop per group. ``sh`` blocks hold ``model-registry ...`` commands
(one per line, ``#`` comments allowed, ``$VARS`` expanded) run in process, each of which must exit
0, and ``export NAME=value`` lines, which set a variable for the rest of the test.

The examples find the server through the environment, as a reader's shell would:
``MODEL_REGISTRY_HOST``, ``MODEL_REGISTRY_PORT``, ``MODEL_REGISTRY_GRPC_PORT``,
``MODEL_REGISTRY_URL`` and, for ``secure`` groups, ``MODEL_REGISTRY_TOKEN`` and
``MODEL_REGISTRY_CA``. Each group runs in a fresh temporary working directory against a fresh
server (its own thread) over a clean database.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_MARK = re.compile(r"^<!--\s*run(?:\s*:\s*(?P<options>[a-z ,-]*))?\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>[a-z]*)\s*$")
_OPTIONS = {"continue", "secure"}
_LANGS = {"python", "sh"}


class DocsFormatError(ValueError):
    """A run marker is malformed or not followed by a block that can run."""


@dataclass
class Block:
    """One runnable fenced block.

    Attributes:
        page: The Markdown file.
        line: 1-based line of the block's first code line.
        lang: ``python`` or ``sh``.
        code: The block's text.
        options: The marker's options.
    """

    page: Path
    line: int
    lang: str
    code: str
    options: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Group:
    """Blocks that run together (a first block and its ``continue`` blocks)."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return "secure" in self.blocks[0].options

    @property
    def id(self) -> str:
        return self.blocks[0].where


def extract_blocks(page: Path, text: str | None = None) -> list[Block]:
    """Return the runnable blocks of a Markdown page, in order.

    Raises:
        DocsFormatError: A marker with unknown options, or not directly followed by a
            ``python``/``sh`` fence, or a block that is never closed.
    """
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        mark = _MARK.match(lines[index].strip())
        index += 1
        if mark is None:
            continue
        options = frozenset(o for o in re.split(r"[ ,]+", mark["options"] or "") if o)
        if not options <= _OPTIONS:
            raise DocsFormatError(f"{page}:{index}: unknown run options {sorted(options)}")
        fence = _FENCE.match(lines[index]) if index < len(lines) else None
        if fence is None or fence["lang"] not in _LANGS:
            raise DocsFormatError(f"{page}:{index}: a run marker must directly precede a block")
        start = index + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise DocsFormatError(f"{page}:{start}: the block is never closed")
        code = "\n".join(lines[start:end]) + "\n"
        blocks.append(Block(page, start + 1, fence["lang"], code, options))
        index = end + 1
    return blocks


def group_blocks(blocks: list[Block]) -> list[Group]:
    """Group blocks: each ``continue`` block joins the group before it."""
    groups: list[Group] = []
    for block in blocks:
        if "continue" in block.options:
            if not groups:
                raise DocsFormatError(f"{block.where}: 'continue' with nothing before it")
            groups[-1].blocks.append(block)
        else:
            groups.append(Group([block]))
    return groups


def _all_groups() -> list[Group]:
    return [group for page in PAGES for group in group_blocks(extract_blocks(page))]


GROUPS = _all_groups()


def _run_python(block: Block, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    # Pad so tracebacks point at the Markdown line of the failing statement.
    source = "\n" * (block.line - 1) + block.code
    code = compile(
        source, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        loop.run_until_complete(eval(code, namespace))
    else:
        exec(code, namespace)


_EXPORT = re.compile(r"^export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _run_sh(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from model_registry.cli import main

    for raw in block.code.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        export = _EXPORT.match(line)
        if export is not None:
            words = shlex.split(export[2], comments=True)
            monkeypatch.setenv(export[1], os.path.expandvars(words[0] if words else ""))
            continue
        argv = [os.path.expandvars(word) for word in shlex.split(line, comments=True)]
        if argv[0] != "model-registry" or argv[1:2] == ["serve"]:
            raise DocsFormatError(f"{block.where}: only model-registry commands run: {line!r}")
        code = main(argv[1:])
        assert code == 0, f"{block.where}: `{shlex.join(argv)}` exited {code}"


def _close(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.mark.parametrize("group", GROUPS, ids=[g.id for g in GROUPS])
# MLflow's own deprecation noise (its SQLAlchemy mappers, its pandas calls), not ours.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated")
def test_documented_example_runs_against_a_real_server(
    group: Group,
    start_example_server: Callable[[bool], Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example_server = start_example_server(group.secure)
    for name in ("MODEL_REGISTRY_TOKEN", "MODEL_REGISTRY_CA", "KF_PIPELINES_SA_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in example_server.env.items():
        monkeypatch.setenv(name, value)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PWD", str(workdir))  # as a shell keeps it
    if any("import mlflow" in block.code for block in group.blocks):
        # mlflow.set_tracking_uri is process-global: restore it for the tests that follow.
        from mlflow.tracking._tracking_service import utils as mlflow_tracking

        monkeypatch.setattr(mlflow_tracking, "_tracking_uri", mlflow_tracking._tracking_uri)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    try:
        for block in group.blocks:
            if block.lang == "python":
                _run_python(block, namespace, loop)
            else:
                _run_sh(block, monkeypatch)
    finally:
        _close(loop)


def test_every_page_has_runnable_examples_except_pure_reference() -> None:
    # Pages that describe code show it running; an example that silently lost its marker
    # would otherwise rot unnoticed.
    with_examples = {block.page.name for group in GROUPS for block in group.blocks}
    for name in ("README.md", "client.md", "facade.md", "cli.md", "server.md", "mlflow.md"):
        assert name in with_examples, f"{name} has no runnable example"


def test_a_marker_must_precede_a_block() -> None:
    page = ROOT / "x.md"
    with pytest.raises(DocsFormatError, match="directly precede"):
        extract_blocks(page, "<!-- run -->\n\n```python\npass\n```\n")
    with pytest.raises(DocsFormatError, match="unknown run options"):
        extract_blocks(page, "<!-- run: fast -->\n```python\npass\n```\n")
    with pytest.raises(DocsFormatError, match="never closed"):
        extract_blocks(page, "<!-- run -->\n```python\npass\n")


def test_blocks_are_found_with_their_lines_and_grouped_by_continue() -> None:
    text = (
        "# t\n<!-- run -->\n```python\na = 1\n```\n"
        "```python\nnot_run()\n```\n"
        "<!-- run: continue -->\n```python\nassert a == 1\n```\n"
        "<!-- run: secure -->\n```sh\nmodel-registry models list\n```\n"
    )
    blocks = extract_blocks(ROOT / "x.md", text)
    assert [(b.line, b.lang, b.code) for b in blocks] == [
        (4, "python", "a = 1\n"),
        (11, "python", "assert a == 1\n"),
        (15, "sh", "model-registry models list\n"),
    ]
    groups = group_blocks(blocks)
    assert [len(g.blocks) for g in groups] == [2, 1]
    assert [g.secure for g in groups] == [False, True]


_LINK = re.compile(r"\]\(([^)\s]+)\)")
#: Pages another engineer writes; linked from ours before they land (checked once they exist).
_OWNED_ELSEWHERE = {"docs/security.md"}


def _anchors(page: Path) -> set[str]:
    """GitHub-style anchors of a page's headings (outside fenced blocks)."""
    anchors: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            anchors.add(slug)
    return anchors


def test_relative_links_point_at_existing_pages_and_headings() -> None:
    broken = []
    for page in PAGES:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            name = linked.relative_to(ROOT).as_posix() if linked.is_relative_to(ROOT) else path
            if name in _OWNED_ELSEWHERE and not linked.is_file():
                continue
            if not linked.is_file():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
