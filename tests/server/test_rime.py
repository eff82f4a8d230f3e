"""Seed 003's REST calls, as the notebook writes them (values filled in), against the server:
create a project, register two Hugging Face datasets and a model, with the token in the
``rime-api-key`` header; then what they stored, seen through the reference routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from model_registry.server import RunningServer, ServerThread

API_KEY = "seed-admin-token"


@pytest.fixture
def seed_server(database_url: str) -> Iterator[RunningServer]:
    with ServerThread(database_url, auth_tokens=[API_KEY]) as srv:
        yield srv


def test_the_seed_003_calls_run_as_written(seed_server: RunningServer) -> None:
    headers = {"rime-api-key": API_KEY}
    API_URL = seed_server.url

    # -- as in the notebook --------------------------------------------------------------
    req = {
        "name": "NLP Example",
        "description": "Example stress test on NLP data.",
        "model_task": "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE",
    }
    api_endpoint = f"{API_URL}/v1/projects"
    res = requests.post(api_endpoint, json=req, headers=headers, timeout=10)
    assert res.status_code == 200
    project_id = res.json()["project"]["id"]

    DATASET_URI = "rungalileo/snli"
    MODEL_URI = "cross-encoder/nli-MiniLM2-L6-H768"
    dt = str(datetime.now())

    def register_dataset(dataset_uri: str, split_name: str) -> Any:
        api_endpoint = f"{API_URL}/v1/registry/dataset/{project_id['uuid']}"
        req = {
            "name": f"{dataset_uri}_{split_name}_{dt}",
            "data_info": {
                "connection_info": {
                    "hugging_face": {
                        "dataset_uri": dataset_uri,
                        "split_name": split_name,
                        "loading_params_json": json.dumps({}),
                    },
                },
                "data_params": {
                    "label_col": "label",
                    "text_features": ["premise", "hypothesis"],
                    "class_names": ["Contradiction", "Neutral", "Entailment"],
                },
            },
        }
        res = requests.post(api_endpoint, json=req, headers=headers, timeout=10)
        return res.json()["datasetId"]

    ref_data_id = register_dataset(DATASET_URI, "train")
    eval_data_id = register_dataset(DATASET_URI, "test")

    api_endpoint = f"{API_URL}/v1/registry/model/{project_id['uuid']}"
    req = {
        "name": f"{MODEL_URI}_{dt}",
        "model_info": {"hugging_face": {"model_uri": MODEL_URI}},
    }
    res = requests.post(api_endpoint, json=req, headers=headers, timeout=10)
    model_id = res.json()["modelId"]
    # -- end of the notebook's calls -------------------------------------------------------

    base = f"{API_URL}/api/model_registry/v1"
    in_project = {**headers, "X-Model-Registry-Project": project_id["uuid"]}
    project = requests.get(f"{base}/projects/{project_id['uuid']}", headers=headers, timeout=10)
    assert project.json()["name"] == "NLP Example"
    assert project.json()["modelTask"] == "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE"
    train = requests.get(f"{base}/artifacts/{ref_data_id}", headers=in_project, timeout=10).json()
    assert train["artifactType"] == "dataset-artifact"
    assert train["name"] == f"{DATASET_URI}_train_{dt}"
    assert train["externalId"] == f"dataset:{DATASET_URI}_train_{dt}"
    props = {k: v["string_value"] for k, v in train["customProperties"].items()}
    assert props["registry.kind"] == "dataset"
    assert props["params.label_col"] == "label"
    assert json.loads(props["params.class_names"]) == ["Contradiction", "Neutral", "Entailment"]
    assert json.loads(props["connection_info"])["hugging_face"]["split_name"] == "train"
    assert eval_data_id != ref_data_id
    model = requests.get(f"{base}/registered_models/{model_id}", headers=in_project, timeout=10)
    assert model.json()["name"] == f"{MODEL_URI}_{dt}"
    versions = requests.get(
        f"{base}/registered_models/{model_id}/versions", headers=in_project, timeout=10
    ).json()["items"]
    artifacts = requests.get(
        f"{base}/model_versions/{versions[0]['id']}/artifacts", headers=in_project, timeout=10
    ).json()["items"]
    assert artifacts[0]["uri"] == MODEL_URI and artifacts[0]["modelFormatName"] == "hugging_face"
    # Nothing of it is in default.
    outside = requests.get(f"{base}/registered_models/{model_id}", headers=headers, timeout=10)
    assert outside.status_code == 404


def test_seed_registrations_refuse_duplicates_bad_bodies_and_foreign_projects(
    seed_server: RunningServer,
) -> None:
    headers = {"rime-api-key": API_KEY}
    url = seed_server.url
    project = requests.post(
        f"{url}/v1/projects", json={"name": "p"}, headers=headers, timeout=10
    ).json()["project"]["id"]["uuid"]
    dataset = {
        "name": "d",
        "data_info": {"connection_info": {"data_file": {"path": "/nowhere/d.csv"}}},
    }
    first = requests.post(
        f"{url}/v1/registry/dataset/{project}", json=dataset, headers=headers, timeout=10
    )
    assert first.status_code == 200, first.text  # a path is recorded, never opened
    again = requests.post(
        f"{url}/v1/registry/dataset/{project}", json=dataset, headers=headers, timeout=10
    )
    assert again.status_code == 409
    model = {"name": "m", "model_info": {"model_path": {"path": "/models/m"}}}
    assert (
        requests.post(
            f"{url}/v1/registry/model/{project}", json=model, headers=headers, timeout=10
        ).status_code
        == 200
    )
    dup = requests.post(
        f"{url}/v1/registry/model/{project}", json=model, headers=headers, timeout=10
    )
    assert dup.status_code == 409
    for bad in (
        {"name": "x", "model_info": {}},
        {"name": "x", "model_info": {"hugging_face": {}}},
        {"name": "", "model_info": {"model_path": {"path": "p"}}},
        {"name": "x", "model_info": {"model_path": {"path": "p"}}, "extra": 1},
    ):
        answer = requests.post(
            f"{url}/v1/registry/model/{project}", json=bad, headers=headers, timeout=10
        )
        assert answer.status_code == 400, (bad, answer.text)
    missing = requests.post(
        f"{url}/v1/registry/model/00000000-0000-0000-0000-000000000000",
        json=model,
        headers=headers,
        timeout=10,
    )
    assert missing.status_code == 404
    assert requests.post(f"{url}/v1/projects", json={"name": "q"}, timeout=10).status_code == 401
    task = requests.post(
        f"{url}/v1/projects", json={"name": "q", "model_task": "X"}, headers=headers, timeout=10
    )
    assert task.status_code == 400 and "MODEL_TASK_FILL_MASK" in task.json()["message"]
