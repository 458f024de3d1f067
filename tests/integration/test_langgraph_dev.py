"""`langgraph.json` loads the compiled turn graph in LangGraph's own dev server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, spawned, wait_http

pytestmark = pytest.mark.integration


def test_langgraph_dev_serves_the_turn_graph(tmp_path):
    port = free_port()
    langgraph = Path(sys.executable).parent / "langgraph"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANGAASSIST_")}
    env.update({"MANGAASSIST_DATA_DIR": str(tmp_path), "MANGAASSIST_LLM_MODE": "off",
                "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"})
    cmd = [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "langgraph-dev.log"
    with spawned(cmd, env, log) as proc:
        wait_http(f"{base}/ok", proc, "langgraph dev", 90, log)
        assistants = httpx.post(f"{base}/assistants/search", json={"graph_id": "mangaassist"}, timeout=10).json()
        assert assistants and assistants[0]["graph_id"] == "mangaassist"
        graph = httpx.get(f"{base}/assistants/{assistants[0]['assistant_id']}/graph", timeout=30).json()
        node_ids = {n["id"] for n in graph["nodes"]}
        assert {"validate_input", "classify_intent", "speculative_retrieve", "generate_primary",
                "generate_secondary", "respond_grounded", "apply_guardrails", "finalize"} <= node_ids
        # Studio's forms come from the schemas: the context's lists what a caller may set, no more.
        schemas = httpx.get(f"{base}/assistants/{assistants[0]['assistant_id']}/schemas", timeout=30)
        assert schemas.status_code == 200, schemas.text
        context = schemas.json()["context_schema"]["properties"]
        assert {"session_id", "user_id", "context_hints"} <= set(context) and "speculation" not in context
        run = httpx.post(
            f"{base}/runs/wait",
            json={"assistant_id": assistants[0]["assistant_id"], "input": {"message": "recommend a horror manga"}},
            timeout=60,
        ).json()
        assert run.get("result", {}).get("intent") == "recommendation", run
