"""Validation of local data files before they are registered.

Only what is needed to learn the column names is read: the header line of a CSV file, the
footer schema of a Parquet file, the first records of a JSON-lines or JSON-array file. Files of
any size can therefore be checked quickly. URIs that are not local files (``s3://``,
``https://``, ``hf://``, ...) are not opened at all: the result says they were not validated.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from model_registry.exceptions import ModelRegistryError

__all__ = [
    "COLUMN_LIST_PARAMS",
    "COLUMN_SCALAR_PARAMS",
    "SUPPORTED_FORMATS",
    "DataValidationError",
    "ValidationResult",
    "columns_named_by",
    "detect_format",
    "local_path",
    "read_columns",
    "validate_data_file",
]

#: Parameters whose value names one column of the data.
COLUMN_SCALAR_PARAMS: tuple[str, ...] = ("label_col", "timestamp_col", "pred_col")
#: Parameters whose value is a list of column names.
COLUMN_LIST_PARAMS: tuple[str, ...] = (
    "text_features",
    "image_features",
    "protected_features",
    "features_not_in_model",
)

#: File suffixes understood by :func:`detect_format`, longest first so ``.jsonl.gz`` wins.
SUPPORTED_FORMATS: tuple[str, ...] = (
    ".jsonl.gz",
    ".ndjson.gz",
    ".json.gz",
    ".csv.gz",
    ".parquet",
    ".pq",
    ".jsonl",
    ".ndjson",
    ".json",
    ".csv",
)

# How many leading records of a JSON file are read to learn its columns; records of real data
# sets share their keys, and reading a bounded prefix keeps huge files cheap to check.
_SAMPLE_RECORDS = 100
_CHUNK = 64 * 1024
# A column-oriented JSON document ({"col": [...]}) has to be decoded whole to learn its keys;
# past this size we refuse rather than load a huge file into memory.
_MAX_WHOLE_JSON = 64 * 1024 * 1024


class DataValidationError(ModelRegistryError, ValueError):
    """A data file cannot be read or lacks a column its parameters name.

    It is a :class:`~model_registry.exceptions.ModelRegistryError` (the client's one root) and a
    ``ValueError`` (bad input), and is raised before anything is sent to the registry.

    Attributes:
        uri: The file that was checked.
        missing: The missing column names (empty when the file itself is the problem).
    """

    def __init__(self, message: str, *, uri: str, missing: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.uri = uri
        self.missing: tuple[str, ...] = tuple(missing)


@dataclass(frozen=True)
class ValidationResult:
    """What validation found out about one data URI.

    Attributes:
        uri: The URI as given.
        validated: True when the file was opened and its columns checked.
        file_format: The detected format suffix (e.g. ``".csv"``), or None for remote URIs.
        columns: The columns found, in file order, or None when not validated.
        note: A human-readable line saying what was (or was not) done.
    """

    uri: str
    validated: bool
    file_format: str | None
    columns: tuple[str, ...] | None
    note: str


def local_path(uri: str) -> Path | None:
    """Return the local filesystem path a URI points at, or None for a remote URI.

    Plain paths and ``file://`` URIs are local; anything with another scheme (``s3://``,
    ``https://``, ``hf://``, ...) is remote. A one-letter scheme is a Windows drive letter.

    Args:
        uri: A path or URI.

    Returns:
        The local path, or None when the URI is not local.
    """
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" or len(parts.scheme) == 1:
        return Path(uri)
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return the format suffix of a data file from its name.

    Args:
        path: The file name or path.

    Returns:
        One of :data:`SUPPORTED_FORMATS`.

    Raises:
        DataValidationError: The suffix is not a supported format.
    """
    name = os.fspath(path).lower()
    for suffix in SUPPORTED_FORMATS:
        if name.endswith(suffix):
            return suffix
    supported = ", ".join(sorted(set(SUPPORTED_FORMATS)))
    raise DataValidationError(
        f"unsupported data file format for '{os.fspath(path)}' (supported: {supported})",
        uri=os.fspath(path),
    )


def columns_named_by(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """List the (parameter, column) pairs that a parameter mapping names.

    Args:
        params: Data or prediction parameters, e.g. ``{"label_col": "y", "text_features": [..]}``.

    Returns:
        Pairs in parameter order; list parameters contribute one pair per column.
    """
    named: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if key in COLUMN_SCALAR_PARAMS:
            named.append((key, str(value)))
        elif key in COLUMN_LIST_PARAMS:
            named.extend((key, str(column)) for column in value)
    return named


def validate_data_file(uri: str, params: Mapping[str, Any]) -> ValidationResult:
    """Check that a data file is readable and has every column its parameters name.

    Args:
        uri: A local path, a ``file://`` URI, or a remote URI (not checked).
        params: The parameters naming columns (``label_col``, ``timestamp_col``,
            ``text_features``, ``pred_col``, ...).

    Returns:
        What was checked and the columns found.

    Raises:
        DataValidationError: The file is missing, unreadable, in an unsupported format, or
            lacks a named column; the message names the file and the missing columns.
    """
    path = local_path(uri)
    if path is None:
        scheme = urlsplit(uri).scheme
        return ValidationResult(
            uri=uri,
            validated=False,
            file_format=None,
            columns=None,
            note=f"{scheme}:// URI not validated locally: {uri}",
        )
    file_format = detect_format(path)
    columns = read_columns(path)
    present = set(columns)
    wanted = columns_named_by(params)
    missing = [(key, column) for key, column in wanted if column not in present]
    if missing:
        described = ", ".join(f"'{column}' ({key})" for key, column in missing)
        noun = "column" if len(missing) == 1 else "columns"
        found = ", ".join(columns) if columns else "none"
        raise DataValidationError(
            f"{noun} {described} not found in '{path}'; columns found: {found}",
            uri=uri,
            missing=[column for _, column in missing],
        )
    return ValidationResult(
        uri=uri,
        validated=True,
        file_format=file_format,
        columns=tuple(columns),
        note=f"validated {len(wanted)} named column(s) in {path}",
    )


def read_columns(path: str | os.PathLike[str]) -> list[str]:
    """Read the column names of a local data file, reading as little of it as possible.

    Args:
        path: The local file.

    Returns:
        Column names in file order (for JSON, in order of first appearance).

    Raises:
        DataValidationError: The file is missing, unreadable or malformed.
    """
    file_path = Path(path)
    file_format = detect_format(file_path)
    try:
        if file_format in (".parquet", ".pq"):
            return _parquet_columns(file_path)
        with _open_text(file_path, gzipped=file_format.endswith(".gz")) as stream:
            if file_format.startswith(".csv"):
                return _csv_columns(stream, file_path)
            if file_format.startswith((".jsonl", ".ndjson")):
                return _jsonl_columns(stream, file_path)
            return _json_columns(stream, file_path)
    except DataValidationError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError(
            f"cannot read data file '{file_path}': {_reason(exc)}", uri=str(file_path)
        ) from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _open_text(path: Path, *, gzipped: bool) -> IO[str]:
    # utf-8-sig: a byte-order mark (spreadsheet exports write one) is not part of a column name.
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # the caller closes it


def _unreadable(path: Path, why: str) -> DataValidationError:
    return DataValidationError(f"cannot read data file '{path}': {why}", uri=str(path))


def _csv_columns(stream: IO[str], path: Path) -> list[str]:
    header = next(csv.reader(stream), None)
    if not header:
        raise _unreadable(path, "no header line")
    return [column.strip() for column in header]


def _parquet_columns(path: Path) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataValidationError(
            f"cannot read data file '{path}': pyarrow is needed to read Parquet files",
            uri=str(path),
        ) from exc
    import pyarrow as pa

    try:
        # read_schema reads only the footer, whatever the file's size.
        schema = pq.read_schema(path)
    except (pa.ArrowException, ValueError) as exc:
        raise _unreadable(path, str(exc)) from exc
    return [str(name) for name in schema.names]


def _merge_keys(columns: dict[str, None], record: Any, path: Path, where: str) -> None:
    if not isinstance(record, dict):
        raise _unreadable(path, f"{where} is not a JSON object")
    for key in record:
        columns.setdefault(str(key), None)


def _jsonl_columns(stream: IO[str], path: Path) -> list[str]:
    columns: dict[str, None] = {}
    seen = 0
    for line_number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _unreadable(path, f"line {line_number} is not valid JSON ({exc.msg})") from exc
        _merge_keys(columns, record, path, f"line {line_number}")
        seen += 1
        if seen >= _SAMPLE_RECORDS:
            break
    if not seen:
        raise _unreadable(path, "no records")
    return list(columns)


class _JsonStream:
    """Decode successive JSON values from a text stream without reading it all."""

    def __init__(self, stream: IO[str], path: Path) -> None:
        self._stream = stream
        self._path = path
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._consumed = 0

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read(_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._consumed += self._pos
        self._pos = 0
        return True

    def peek(self) -> str:
        """Return the next non-blank character, or "" at the end."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos].isspace():
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def take(self) -> str:
        """Consume and return the next non-blank character."""
        char = self.peek()
        self._pos += len(char)
        return char

    def value(self, *, limit: int | None = None) -> Any:
        """Decode the next JSON value, reading more text until it is complete."""
        decoder = json.JSONDecoder()
        self.peek()
        while True:
            try:
                value, end = decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                # An error at the end of the buffer may just mean the value is not all read.
                if self._fill():
                    if limit is not None and len(self._buffer) > limit:
                        raise _unreadable(
                            self._path,
                            f"a JSON value larger than {limit} bytes cannot be checked; "
                            "use records (JSON lines or a JSON array) or skip validation",
                        ) from exc
                    continue
                offset = self._consumed + exc.pos
                raise _unreadable(
                    self._path, f"invalid JSON at offset {offset} ({exc.msg})"
                ) from exc
            # A number at the buffer's end may continue in the next chunk.
            if end == len(self._buffer) and not self._eof and self._fill():
                continue
            self._pos = end
            return value


def _json_columns(stream: IO[str], path: Path) -> list[str]:
    reader = _JsonStream(stream, path)
    first = reader.peek()
    if first == "[":
        # An array of records: decode the first few only.
        reader.take()
        columns: dict[str, None] = {}
        for index in range(_SAMPLE_RECORDS):
            if reader.peek() == "]":
                break
            _merge_keys(columns, reader.value(), path, f"record {index}")
            separator = reader.take()
            if separator == "]":
                break
            if separator != ",":
                raise _unreadable(path, f"expected ',' or ']' after record {index}")
        if not columns:
            raise _unreadable(path, "no records")
        return list(columns)
    if first == "{":
        document = reader.value(limit=_MAX_WHOLE_JSON)
        if reader.peek() == "{":
            # Several objects one after another: JSON lines under a .json name.
            columns = {}
            _merge_keys(columns, document, path, "record 0")
            for index in range(1, _SAMPLE_RECORDS):
                if reader.peek() != "{":
                    break
                _merge_keys(columns, reader.value(), path, f"record {index}")
            return list(columns)
        # A single object: column-oriented ({"col": [...]} or {"col": {"0": ...}}).
        return [str(key) for key in document]
    if first == "":
        raise _unreadable(path, "empty file")
    raise _unreadable(path, "expected a JSON array of records or a JSON object")
