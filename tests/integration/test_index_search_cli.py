"""`mangaassist index` and `mangaassist search` as subprocesses on a private copy of the data and index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mangaassist.settings import get_settings
from tests.support.processes import run_cli, service_env
from tools.embedded_backend import EmbeddedBackend


@pytest.fixture(scope="module")
def private_copy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of the store data and of the live index; then one policy answer is edited."""
    settings = get_settings()
    root = tmp_path_factory.mktemp("retrieval")
    paths = {"root": root, "store": root / "store", "index": root / "index"}
    shutil.copytree(settings.store_data_dir, paths["store"], ignore=shutil.ignore_patterns("build"))
    live = EmbeddedBackend(settings.index_path)
    if live.has_index():
        version = live.live_sync().identity.version
        (paths["index"] / "versions").mkdir(parents=True)
        shutil.copytree(settings.index_path / "versions" / version, paths["index"] / "versions" / version)
        shutil.copy(settings.index_path / "LIVE", paths["index"] / "LIVE")
    else:  # no `make` yet: build the starting index from the shipped vectors
        first = run_cli(["index"], _env(paths), timeout=600)
        assert first.returncode == 0, first.stderr
    policy = paths["store"] / "policies" / "returns.en.md"
    text = policy.read_text(encoding="utf-8")
    marker = "## Who pays for return shipping?"
    assert marker in text
    policy.write_text(text.replace(marker, marker + "\n\nPrepaid labels are emailed within one hour.", 1),
                      encoding="utf-8")
    return paths


def _env(paths: dict[str, Path], **extra: str) -> dict[str, str]:
    settings = {"MANGAASSIST_STORE_DATA_DIR": str(paths["store"]), "MANGAASSIST_INDEX_DIR": str(paths["index"])}
    return service_env(paths["root"] / "var", **{**settings, **extra})


def test_index_search_rollback(private_copy: dict[str, Path]) -> None:
    env = _env(private_copy)
    before = json.loads((private_copy["index"] / "LIVE").read_text())["live"]

    built = run_cli(["index", "--json"], env, timeout=600)
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    # Only the edited policy section is embedded again; every other vector is reused.
    assert report["newly_embedded"] == 1
    assert report["reused_vectors"] == report["embedded"] - 1
    assert report["identity"]["previous_version"] == before
    assert report["reranker"]["pairs"] > 0
    assert (private_copy["index"] / "reranker.json").is_file()

    found = run_cli(["search", "prepaid return label by email", "--json", "--filter", "doc_type=policy"], env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["doc_id"] == "policy:returns:5:en"
    assert {"dense", "lexical", "fused", "rerank"} <= set(hits[0]["scores"])

    ja = run_cli(["search", "ホラー漫画", "--k", "5", "--json", "--filter", "language=ja",
                  "--filter", "genre=horror"], env)
    assert ja.returncode == 0, ja.stderr
    assert len(json.loads(ja.stdout)) == 5

    volumes = run_cli(["search", "Berserk Vol. 3", "--filter", "doc_type=volume", "--filter", "format=digital",
                       "--filter", "language=en"], env)
    assert volumes.returncode == 0, volumes.stderr
    first = volumes.stdout.splitlines()[0]
    assert "volume:B0" in first and "Berserk, Vol. 3" in first and "lexical=" in volumes.stdout

    back = run_cli(["index", "--rollback", "--json"], env)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["rolled_back_to"]["version"] == before
    old = run_cli(["search", "prepaid return label by email", "--json", "--filter", "doc_type=policy", "--k", "3"], env)
    assert "Prepaid labels" not in old.stdout


def test_bad_input_is_a_message_and_exit_2(private_copy: dict[str, Path]) -> None:
    env = _env(private_copy)
    bad = run_cli(["search", "horror", "--filter", "genre=spooky"], env)
    assert bad.returncode == 2 and "unknown genre 'spooky'" in bad.stderr and "Traceback" not in bad.stderr
    bad_key = run_cli(["search", "horror", "--filter", "colour=red"], env)
    assert bad_key.returncode == 2 and "unknown filter" in bad_key.stderr
    # The index was built with e5: a query embedded by MiniLM must be refused, not compared.
    other_model = run_cli(["search", "horror"], _env(private_copy, MANGAASSIST_EMBEDDING_MODEL="minilm"))
    assert other_model.returncode == 2 and "rebuild" in other_model.stderr
    empty = run_cli(["search", "horror"], _env(private_copy, MANGAASSIST_INDEX_DIR=str(private_copy["root"] / "none")))
    assert empty.returncode == 2 and "mangaassist index" in empty.stderr
