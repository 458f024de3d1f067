"""Store policy and FAQ documents, one self-contained section per retrievable unit."""

from __future__ import annotations

import re
from pathlib import Path

from tools.models import PolicySection

TOPICS = ("shipping", "returns", "payment", "preorders", "digital-editions", "account")


def load_policies(store_data_dir: Path) -> list[PolicySection]:
    """Every `## ` section of every `<topic>.<lang>.md` policy file."""
    sections: list[PolicySection] = []
    for path in sorted((store_data_dir / "policies").glob("*.md")):
        topic, _, language = path.stem.rpartition(".")
        if topic not in TOPICS or language not in ("en", "ja"):
            continue
        text = path.read_text(encoding="utf-8")
        title_match = re.search(r"^# (.+)$", text, re.M)
        title = title_match.group(1).strip() if title_match else topic
        parts = re.split(r"^## (.+)$", text, flags=re.M)
        for n, (heading, body) in enumerate(zip(parts[1::2], parts[2::2], strict=True), 1):
            sections.append(
                PolicySection(
                    doc_id=f"policy:{topic}:{n}:{language}",
                    topic=topic,
                    language=language,  # type: ignore[arg-type]
                    title=title,
                    heading=heading.strip(),
                    body=" ".join(body.split()),
                )
            )
    return sections
