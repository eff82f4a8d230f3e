"""The async registration workflows against the real server (fixture ``server``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Conflict
from model_registry.server import RunningServer
from model_registry.types import DataSet, ListOptions, Pager
from model_registry.workflows import DataValidationError
from model_registry.workflows import registration as wf
from model_registry.workflows.params import decode_params

ROWS = [{"ts": "2024-01-01", "premise": "p", "hypothesis": "h", "label": 0}]
PARAMS = {"label_col": "label", "timestamp_col": "ts", "text_features": ["premise", "hypothesis"]}


def write(path: Path) -> Path:
    name = path.name
    if name.endswith(".csv"):
        path.write_text("ts,premise,hypothesis,label\n2024-01-01,p,h,0\n")
    elif name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif name.endswith(".jsonl.gz"):
        with gzip.open(path, "wt") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        with gzip.open(path, "wt") as handle:
            json.dump(ROWS, handle)
    return path


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[ModelRegistryAPIClient]:
    async with ModelRegistryAPIClient.insecure_connection(
        f"http://{server.host}", server.port
    ) as client:
        yield client


@pytest.mark.parametrize("name", ["d.csv", "d.parquet", "d.jsonl", "d.jsonl.gz", "d.json.gz"])
async def test_dataset_of_each_format_is_validated_stored_and_read_back(
    api: ModelRegistryAPIClient, tmp_path: Path, name: str
) -> None:
    path = write(tmp_path / name)

    stored = await wf.register_dataset(api, name, str(path), data_params=PARAMS)

    found = await wf.find_dataset(api, name)
    assert found is not None and found == stored
    assert found == await wf.get_dataset_by_id(api, stored.id or "")
    assert decode_params(found.custom_properties) == PARAMS
    assert json.loads(found.schema or "null") == ["ts", "premise", "hypothesis", "label"]
    assert found.source_type == "local"


async def test_unreadable_file_is_refused_before_anything_is_written(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")

    with pytest.raises(DataValidationError, match=r"cannot read data file '.*broken\.parquet'"):
        await wf.register_dataset(api, "broken", str(path), data_params=PARAMS)

    assert await wf.find_dataset(api, "broken") is None
    assert list(await api.get_artifacts()) == []


async def test_remote_dataset_is_stored_unvalidated(api: ModelRegistryAPIClient) -> None:
    stored = await wf.register_dataset(
        api, "snli", "hf://datasets/stanfordnlp/snli", data_params=PARAMS
    )

    assert stored.schema is None and stored.source_type == "hf"
    assert decode_params(stored.custom_properties) == PARAMS


async def test_dataset_pager_lists_only_datasets_and_honours_a_filter(
    api: ModelRegistryAPIClient,
) -> None:
    parts = await wf.register_model(
        api, "m", "s3://b/m", version="1", author="a", model_format_name="onnx"
    )
    for index in range(3):
        await wf.register_dataset(api, f"d{index}", f"s3://b/{index}.csv", skip_validation=True)
    await wf.register_predictions(
        api, (await wf.find_dataset(api, "d0")) or "", parts.version, "s3://b/p.csv",
        pred_col="p",
    )  # fmt: skip

    pager: Pager[DataSet] = Pager(lambda o: wf.list_datasets(api, o))
    everything = [d.name async for d in pager.limit(2)]
    filtered = await wf.list_datasets(api, ListOptions(filter_query="name = 'd1'"))

    assert everything == ["d0", "d1", "d2"]
    assert [d.name for d in filtered] == ["d1"]
    assert all(isinstance(d, DataSet) for d in filtered)


async def test_register_model_checks_the_version_before_writing(
    api: ModelRegistryAPIClient,
) -> None:
    first = await wf.register_model(api, "m", "s3://b/1", version="1", author="a")

    with pytest.raises(Conflict):
        await wf.register_model(api, "m", "s3://b/2", version="1", author="b", owner="b")

    assert (await api.get_registered_model_by_id(first.model.id or "")) == first.model
    assert [a.uri for a in await api.get_model_artifacts()] == ["s3://b/1"]
    latest = await wf.latest_version(api, "m")
    assert latest == first.version


async def test_metadata_may_not_shadow_parameters(api: ModelRegistryAPIClient) -> None:
    with pytest.raises(ValueError, match=r"params\.label_col"):
        await wf.register_dataset(
            api, "d", "s3://b/d.csv", data_params={"label_col": "y"},
            metadata={"params.label_col": "z"},
        )  # fmt: skip

    assert await wf.find_dataset(api, "d") is None


async def test_a_new_model_must_not_exist_and_newest_version_finds_the_last_one(
    api: ModelRegistryAPIClient,
) -> None:
    first = await wf.register_model(api, "m", "s3://b/1", version="1", author="a", new_model=True)
    with pytest.raises(Conflict, match="model 'm' already exists"):
        await wf.register_model(api, "m", "s3://b/2", version="2", author="a", new_model=True)
    second = await wf.register_model(api, "m", "s3://b/2", version="2", author="a")
    assert first.model.id is not None and first.model == second.model
    assert await wf.newest_version(api, first.model.id) == second.version
    assert await wf.newest_version(api, "999999") is None


async def test_predictions_record_extra_parameters_and_metadata(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,score,rank\n1,0.5,1\n")
    parts = await wf.register_model(api, "m", "s3://b/1", version="1", author="a")
    dataset = await wf.register_dataset(api, "d", "s3://b/d.csv")
    stored = await wf.register_predictions(
        api,
        dataset,
        parts.version,
        str(path),
        pred_col="score",
        params={"rank_col": "rank"},
        metadata={"integration_id": "i-1"},
    )
    assert wf.params_of(stored) == {"rank_col": "rank", "pred_col": "score"}
    assert stored.custom_properties["integration_id"] == "i-1"
    with pytest.raises(ValueError, match="reserved"):
        await wf.register_predictions(
            api, dataset, parts.version, str(path), pred_col="score", metadata={"params.x": "1"}
        )
