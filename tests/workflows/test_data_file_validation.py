"""Local data file validation on real small files of every supported format."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model_registry.workflows.validation import (
    DataValidationError,
    local_path,
    read_columns,
    validate_data_file,
)

ROWS = [
    {"timestamp": "2024-01-01", "text": "hello", "is_fraud": 0},
    {"timestamp": "2024-01-02", "text": "world", "is_fraud": 1},
]
COLUMNS = ["timestamp", "text", "is_fraud"]
PARAMS = {"label_col": "is_fraud", "timestamp_col": "timestamp", "text_features": ["text"]}


def write_csv(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(ROWS)
    return path


def write_parquet(path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


def jsonl_text() -> str:
    return "".join(json.dumps(row) + "\n" for row in ROWS)


def write_jsonl(path: Path) -> Path:
    path.write_text(jsonl_text())
    return path


def write_jsonl_gz(path: Path) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write(jsonl_text())
    return path


def write_json_gz(path: Path) -> Path:
    with gzip.open(path, "wt") as handle:
        json.dump(ROWS, handle)
    return path


WRITERS = {
    "data.csv": write_csv,
    "data.parquet": write_parquet,
    "data.jsonl": write_jsonl,
    "data.jsonl.gz": write_jsonl_gz,
    "data.json.gz": write_json_gz,
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_yields_its_columns_and_passes_validation(tmp_path: Path, name: str) -> None:
    path = WRITERS[name](tmp_path / name)

    result = validate_data_file(str(path), PARAMS)

    assert result.validated
    assert result.columns == tuple(COLUMNS)
    assert name.endswith(result.file_format or "?")


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_missing_label_column_is_named_in_the_error(tmp_path: Path, name: str) -> None:
    path = WRITERS[name](tmp_path / name)

    with pytest.raises(DataValidationError) as caught:
        validate_data_file(str(path), {"label_col": "label", "text_features": ["text", "body"]})

    message = str(caught.value)
    assert "'label' (label_col)" in message
    assert "'body' (text_features)" in message
    assert str(path) in message
    assert caught.value.missing == ("label", "body")


def test_file_uri_is_validated_like_a_path(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv")

    result = validate_data_file(path.as_uri(), PARAMS)

    assert result.validated and result.columns == tuple(COLUMNS)


@pytest.mark.parametrize(
    "uri", ["s3://bucket/data.csv", "https://example.org/d.parquet", "hf://datasets/snli"]
)
def test_remote_uris_are_not_opened_and_say_so(uri: str) -> None:
    result = validate_data_file(uri, {"label_col": "anything"})

    assert not result.validated
    assert result.columns is None
    assert "not validated locally" in result.note
    assert local_path(uri) is None


def test_missing_file_is_named_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"

    with pytest.raises(DataValidationError, match=r"cannot read data file '.*absent\.csv'"):
        validate_data_file(str(path), PARAMS)


def test_corrupt_gzip_is_reported_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"this is not gzip")

    with pytest.raises(DataValidationError, match=r"cannot read data file '.*broken\.jsonl\.gz'"):
        read_columns(path)


def test_corrupt_parquet_is_reported_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 nonsense")

    with pytest.raises(DataValidationError, match=r"cannot read data file '.*broken\.parquet'"):
        read_columns(path)


def test_bad_json_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{not json}\n')

    with pytest.raises(DataValidationError, match="line 2 is not valid JSON"):
        read_columns(path)


def test_unsupported_suffix_lists_supported_formats(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("x")

    with pytest.raises(DataValidationError, match=r"unsupported data file format.*\.parquet"):
        validate_data_file(str(path), PARAMS)


def test_empty_csv_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")

    with pytest.raises(DataValidationError, match="no header line"):
        read_columns(path)


def test_only_the_head_of_a_large_json_array_is_read(tmp_path: Path) -> None:
    # The first record is complete but the document is truncated far later: a reader that
    # loaded the whole file would fail on the truncation, a streaming one never sees it.
    path = tmp_path / "big.json.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("[")
        handle.write(",".join(json.dumps({"a": i, "b": "x" * 100}) for i in range(5000)))
        handle.write(', {"broken": ')

    assert read_columns(path) == ["a", "b"]


def test_json_lines_under_a_json_name_and_column_oriented_json(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_text('{"a": 1}\n{"a": 2, "b": 3}\n')
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({"x": [1, 2], "y": [3, 4]}))

    assert read_columns(lines) == ["a", "b"]
    assert read_columns(columns) == ["x", "y"]


def test_long_first_record_spanning_many_chunks_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    record = {f"col{i}": "v" * 50 for i in range(3000)}
    path.write_text(json.dumps([record]))

    assert read_columns(path) == list(record)


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffts,label\n1,0\n".encode())

    assert read_columns(path) == ["ts", "label"]
