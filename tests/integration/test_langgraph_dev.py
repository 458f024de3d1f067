"""`langgraph.json` loads the compiled turn graph in LangGraph's own dev server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.integration


def test_langgraph_dev_serves_the_turn_graph(tmp_path):
    port = free_port()
    langgraph = Path(sys.executable).parent / "langgraph"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANGAASSIST_")}
    env.update({"MANGAASSIST_DATA_DIR": str(tmp_path), "MANGAASSIST_LLM_MODE": "off",
                "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"})
    proc = subprocess.Popen(
        [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "langgraph dev did not start"
            time.sleep(0.5)
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
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
