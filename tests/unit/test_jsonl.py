"""The one reader of the JSONL data files, and the loaders that use it naming a bad line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.guardrails import load as load_guardrail_set
from tools.intent import load_utterances
from tools.jsonl import DataError, read_jsonl


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_objects_with_their_line_numbers_blank_lines_skipped(tmp_path: Path):
    path = _write(tmp_path, '{"a": 1}', "", "   ", '{"b": "ワンピース"}')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "ワンピース"})]


@pytest.mark.parametrize(("bad", "message"), [
    ('{"a": 1', "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('"text"', "expected a JSON object"),
])
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, bad: str, message: str):
    path = _write(tmp_path, '{"ok": true}', "", bad, '{"ok": true}')
    with pytest.raises(DataError) as err:
        list(read_jsonl(path))
    assert str(err.value).startswith(f"{path}:3: {message}")


def test_loaders_report_bad_lines_the_same_way(tmp_path: Path):
    path = _write(tmp_path, '{"text": "hi", "intent": "chitchat", "language": "en"}', "{oops")
    with pytest.raises(DataError, match=r"data\.jsonl:2: invalid JSON"):
        load_utterances(path)
    path = _write(tmp_path, '{"text": "hi", "language": "en", "label": "benign"}', "{oops")
    with pytest.raises(DataError, match=r"data\.jsonl:2: invalid JSON"):
        load_guardrail_set(path)
    path = _write(tmp_path, '{"text": "hi", "intent": "haiku", "language": "en"}')
    with pytest.raises(DataError, match=r"data\.jsonl:1: unknown intent 'haiku'"):
        load_utterances(path)
