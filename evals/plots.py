"""PNG plots of a report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evals.metrics import LANGUAGES  # noqa: E402

_COLOURS = {"en": "#1f77b4", "ja": "#d62728"}


def intent_accuracy(intent: dict[str, Any], path: Path) -> None:
    """Per-intent accuracy with Wilson 95% intervals, one bar per language."""
    per_intent = intent["per_intent"]
    intents = [i for i in per_intent["en"] if any(per_intent[lang][i]["n"] for lang in LANGUAGES)]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.38
    for j, lang in enumerate(LANGUAGES):
        xs, ys, lo, hi = [], [], [], []
        for i, name in enumerate(intents):
            r = per_intent[lang][name]
            if not r["n"]:
                continue
            xs.append(i + (j - 0.5) * width)
            ys.append(r["accuracy"])
            lo.append(r["accuracy"] - r["ci95"][0])
            hi.append(r["ci95"][1] - r["accuracy"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=lang, color=_COLOURS[lang], alpha=0.85)
    ax.set_xticks(range(len(intents)), intents, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% Wilson CI)")
    ax.set_title("Intent accuracy per intent and language (held-out data)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion(intent: dict[str, Any], path: Path) -> None:
    """Confusion matrices (rows expected, columns predicted), one panel per language."""
    fig, axes = plt.subplots(1, len(LANGUAGES), figsize=(16, 7))
    for ax, lang in zip(axes, LANGUAGES, strict=True):
        cm = intent["confusion"][lang]
        labels, matrix = cm["labels"], cm["rows_expected_columns_predicted"]
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                if value:
                    ax.text(c, r, str(value), ha="center", va="center", fontsize=6,
                            color="white" if r == c else "black")
        ax.set_title(f"{lang}: expected (rows) vs predicted (columns)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def node_latency(records: list[dict[str, Any]], path: Path) -> None:
    """Histogram of each graph node's time per turn (log scale), from `metadata.timings_ms`."""
    per_node: dict[str, list[float]] = {}
    for case in records:
        for turn in case["turns"]:
            for node, ms in turn["timings_ms"].items():
                per_node.setdefault(node, []).append(max(ms, 0.001))
    nodes = sorted(per_node)
    if not nodes:
        return
    cols = 3
    rows = (len(nodes) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows), squeeze=False)
    for ax, node in zip(axes.flat, nodes, strict=False):
        ax.hist(per_node[node], bins=30, color="#2ca02c")
        ax.set_title(node, fontsize=9)
        ax.set_xlabel("ms", fontsize=8)
    for ax in list(axes.flat)[len(nodes):]:
        ax.axis("off")
    fig.suptitle("Latency per node (ms per turn)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def guardrail_outcomes(e2e: dict[str, Any] | None, guards: dict[str, Any] | None, path: Path) -> None:
    """Output-chain actions on the conversations, and input-guard detection / false positives."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    if e2e is not None:
        outcomes = e2e["guardrail_outcomes"]
        actions = ("none", "modified", "blocked")
        for j, lang in enumerate(LANGUAGES):
            counts = [outcomes[lang]["actions"].get(a, 0) for a in actions]
            left.bar([i + (j - 0.5) * 0.38 for i in range(len(actions))], counts, 0.38, label=lang, color=_COLOURS[lang])
        left.set_xticks(range(len(actions)), actions)
        left.set_title("Output guard action per turn (conversations)")
        left.legend()
    else:
        left.axis("off")
    if guards is not None:
        langs = list(guards["by_language"])
        det = [guards["by_language"][lang]["detection_rate"] or 0 for lang in langs]
        fpr = [guards["by_language"][lang]["false_positive_rate"] or 0 for lang in langs]
        right.bar([i - 0.19 for i in range(len(langs))], det, 0.38, label="detection rate", color="#2ca02c")
        right.bar([i + 0.19 for i in range(len(langs))], fpr, 0.38, label="false-positive rate", color="#ff7f0e")
        right.set_xticks(range(len(langs)), langs)
        right.set_ylim(0, 1.05)
        right.set_title("Input guard on the red-team set")
        right.legend()
    else:
        right.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(report: dict[str, Any], out: Path) -> list[str]:
    """Every plot the report's suites allow; returns the file names written."""
    written = []
    if report.get("intent"):
        intent_accuracy(report["intent"], out / "intent_accuracy.png")
        confusion(report["intent"], out / "confusion_matrix.png")
        written += ["intent_accuracy.png", "confusion_matrix.png"]
    if report.get("cases"):
        node_latency(report["cases"], out / "latency_by_node.png")
        written.append("latency_by_node.png")
    if report.get("e2e") or report.get("guardrails"):
        guardrail_outcomes(report.get("e2e"), report.get("guardrails"), out / "guardrail_outcomes.png")
        written.append("guardrail_outcomes.png")
    return written
