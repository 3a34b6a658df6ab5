"""scripts/run-local under Core Tools: the worker's Python and local.settings.json
(devtools/stack.py), tested without `func`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools import stack

APP_ENV = {
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;...",
    "SYNNEX_API_BASE_URL": "https://127.0.0.1:8443",
    "GRAPH_CLIENT_ID": "5d3c7a2e-6b1f-4c8e-9a40-2f7b8e1c9d03",
}
VENV = Path("/home/dev/msp-licensing/.venv")


class TestFuncEnvironment:
    def test_runs_the_worker_with_the_venv_python(self) -> None:
        """The worker's executable setting and the first PATH entry are the venv's."""
        env = stack.func_environment({"PATH": "/usr/local/bin:/usr/bin"}, APP_ENV, VENV)
        assert env["languageWorkers__python__defaultExecutablePath"] == str(
            VENV / "bin" / "python"
        )
        assert env["PATH"].split(":")[0] == str(VENV / "bin")
        assert env["PATH"].endswith(":/usr/local/bin:/usr/bin")
        assert env["VIRTUAL_ENV"] == str(VENV)
        assert env["FUNCTIONS_WORKER_RUNTIME"] == "python"

    def test_passes_the_app_settings_over_the_inherited_ones(self) -> None:
        """The stack's settings win over a variable of the same name in this process."""
        base = {"PATH": "/usr/bin", "GRAPH_CLIENT_ID": "from-the-shell", "HOME": "/home/dev"}
        env = stack.func_environment(base, APP_ENV, VENV)
        assert {name: env[name] for name in APP_ENV} == APP_ENV
        assert env["HOME"] == "/home/dev"

    @pytest.mark.parametrize(
        "name", ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "CONTAINER_NAME", "PYTHONHOME"]
    )
    def test_leaves_out_azure_markers_and_pythonhome(self, name: str) -> None:
        """A container host's CONTAINER_NAME would read as Azure; PYTHONHOME escapes the venv."""
        env = stack.func_environment({"PATH": "/usr/bin", name: "x"}, APP_ENV, VENV)
        assert name not in env

    def test_works_without_a_path(self) -> None:
        """No PATH at all: the venv's bin is the whole of it."""
        assert stack.func_environment({}, APP_ENV, VENV)["PATH"] == str(VENV / "bin")


class TestLocalSettings:
    def test_never_writes_local_settings_json(self, tmp_path: Path) -> None:
        """A hand-filled local.settings.json is the same after the notes and the copy."""
        mine = tmp_path / "local.settings.json"
        text = json.dumps({"IsEncrypted": False, "Values": {"GRAPH_CLIENT_ID": "mine"}})
        mine.write_text(text)
        copy = tmp_path / ".local" / "local.settings.json"
        stack.write_settings_copy(copy, APP_ENV)
        notes = stack.local_settings_notes(mine, APP_ENV, copy)
        assert mine.read_text() == text
        assert "left as it is" in notes[0]
        assert json.loads(copy.read_text())["Values"] == {
            "FUNCTIONS_WORKER_RUNTIME": "python", **APP_ENV,
        }

    def test_names_values_of_the_file_that_still_apply(self, tmp_path: Path) -> None:
        """An app setting only the file sets (a real vault, say) is named on screen."""
        mine = tmp_path / "local.settings.json"
        mine.write_text(json.dumps({"Values": {
            "KEY_VAULT_URI": "https://kv-northwind.vault.azure.net/",
            "GRAPH_CLIENT_ID": "overridden by the stack",
            "LICENSE_WAIT_MAX_SECONDS": "",
            "SOMETHING_ELSE": "not an app setting",
        }}))
        notes = stack.local_settings_notes(mine, APP_ENV, tmp_path / "copy.json")
        assert notes[-1] == "Its Values KEY_VAULT_URI are not set by the stack and still apply."

    def test_says_where_the_settings_went_when_there_is_no_file(self, tmp_path: Path) -> None:
        """No local.settings.json: one note, and none is created."""
        mine = tmp_path / "local.settings.json"
        notes = stack.local_settings_notes(mine, APP_ENV, tmp_path / "copy.json")
        assert len(notes) == 1
        assert "environment variables" in notes[0]
        assert not mine.exists()

    def test_warns_about_a_file_that_is_not_json(self, tmp_path: Path) -> None:
        """A broken file is left alone and reported."""
        mine = tmp_path / "local.settings.json"
        mine.write_text("{ not json")
        notes = stack.local_settings_notes(mine, APP_ENV, tmp_path / "copy.json")
        assert "not valid JSON" in notes[-1]
        assert mine.read_text() == "{ not json"
