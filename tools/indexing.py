"""The indexing pipeline: store data -> chunks with metadata -> vectors -> a new index version.

Chunking, one retrievable unit per piece of evidence a shopper's question can point at:

- `series:<id>:<en|ja>` — one per series and language: title, reading, aliases, authors, genres,
  demographic, themes, status, volume count and synopsis. Synopses are one or two sentences, so
  the whole profile fits the embedder's window and is never split.
- `reviews:<id>:<en|ja>` — the reader reviews of a series in one language, joined (3-5 short
  reviews, a few hundred characters).
- `policy:<topic>:<n>:<en|ja>` — one per `##` section of a policy file (a question and its
  answer). A section longer than `MAX_CHUNK_CHARS` is split at sentence ends, as `…:<n>.<part>`.
- `volume:<store id>` — one per sellable edition (series volume x EN/JA x print/digital), with its
  store id, format, edition language and stock. These are lexical-only: 28,000 near-identical
  titles would cost minutes to embed and add nothing the series profile does not already say to
  the dense leg.

Every chunk carries a sha256 content hash of what is embedded. A re-index embeds only chunks
whose hash neither the live index nor the shipped vector file (`data/embeddings/`, same model)
holds; the new version is written beside the live one and swapped in atomically. The shipped
file exists because the model is deterministic (independent builds give bit-identical vectors)
and embedding the corpus from scratch costs minutes of CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from tools.catalog import Catalog
from tools.embeddings import Embedder
from tools.jsonl import read_jsonl
from tools.policies import load_policies
from tools.search_backend import EmbeddingIdentity, IndexedDoc, IndexIdentity, NoIndex, SearchBackend
from tools.text import SENTENCE_BREAK
from tools.vocab import DEMOGRAPHICS, GENRES, STATUS_JA

MAX_CHUNK_CHARS = 1200

Progress = Callable[[int, int], None]


class IndexReport(BaseModel):
    """What one indexing run did."""

    identity: IndexIdentity
    documents: int
    embedded: int
    reused_vectors: int
    newly_embedded: int
    seconds: float


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _source_version(store_data_dir: Path, relative: str) -> str:
    path = store_data_dir / relative
    return f"{relative}@{_hash(path.read_text(encoding='utf-8'))[:12]}" if path.is_file() else relative


def split_chunks(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """`text` in pieces of at most about `limit` characters, cut after sentence ends (EN and JA)."""
    if len(text) <= limit:
        return [text]
    sentences = SENTENCE_BREAK.split(text)
    chunks: list[str] = []
    current = ""
    for sentence in filter(None, sentences):
        if current and len(current) + len(sentence) + 1 > limit:
            chunks.append(current.strip())
            current = ""
        current += sentence + ("" if sentence[-1] in "。！？" else " ")
    if current.strip():
        chunks.append(current.strip())
    return chunks


def build_documents(store_data_dir: Path, catalog: Catalog | None = None) -> list[IndexedDoc]:
    """Every chunk of the store data, with metadata and content hashes."""
    catalog = catalog or Catalog(store_data_dir)
    docs: list[IndexedDoc] = []
    series_files = {
        sid: _source_version(store_data_dir, f"catalog/{path.name}")
        for path in sorted((store_data_dir / "catalog").glob("series_*.jsonl"))
        for sid in (row["series_id"] for _, row in read_jsonl(path))
    }
    reviews_version = _source_version(store_data_dir, "reviews/reviews.jsonl")
    products_version = _source_version(store_data_dir, "catalog/products.jsonl")
    for s in catalog.series.values():
        common = {"series_id": s.series_id, "genres": list(s.genres), "demographic": s.demographic}
        # Series and review chunks point at the volume 1 print edition in their language, the card a hit shows.
        first = {lang: p.asin if (p := catalog.volume(s.series_id, 1, "print", lang.upper())) else None
                 for lang in ("en", "ja")}
        genres_ja = " ".join(GENRES[g][0] for g in s.genres)
        # Once each: two spellings of a theme ("death game", "death games") read alike in Japanese.
        themes_ja = "、".join(dict.fromkeys(catalog.themes_ja[t] for t in s.themes))
        docs.append(IndexedDoc(
            doc_id=f"series:{s.series_id}:en", doc_type="series", language="en", title=s.title,
            store_id=first["en"], source_version=series_files.get(s.series_id, ""), **common,
            text=(f"{s.title}. {' / '.join(s.aliases)}. By {', '.join(s.authors)}. "
                  f"{' '.join(s.genres)} {s.demographic} manga, {', '.join(s.themes)}. {s.status}, "
                  f"{s.volumes} volumes. {s.synopsis}"),
        ))
        docs.append(IndexedDoc(
            doc_id=f"series:{s.series_id}:ja", doc_type="series", language="ja", title=s.title_ja,
            store_id=first["ja"], source_version=series_files.get(s.series_id, ""), **common,
            text=(f"{s.title_ja}（{s.title_ja_reading}） {' / '.join(s.aliases)} {s.title} "
                  f"作者：{'、'.join(s.authors_ja)}。"
                  f"{genres_ja} {DEMOGRAPHICS[s.demographic][0]}漫画、{themes_ja}。"
                  f"{STATUS_JA[s.status]}、全{s.volumes}巻。{s.synopsis_ja}"),
        ))
        for language in ("en", "ja"):
            reviews = [r for r in catalog.reviews.get(s.series_id, []) if r.language == language]
            if reviews:
                title = s.title if language == "en" else s.title_ja
                docs.append(IndexedDoc(
                    doc_id=f"reviews:{s.series_id}:{language}", doc_type="reviews", language=language,
                    title=title, store_id=first[language], source_version=reviews_version, **common,
                    text=" ".join(r.text for r in reviews),
                ))
    for p in load_policies(store_data_dir):
        parts = split_chunks(p.body)
        for n, body in enumerate(parts, 1):
            doc_id = p.doc_id if len(parts) == 1 else f"{p.doc_id.rsplit(':', 1)[0]}.{n}:{p.language}"
            docs.append(IndexedDoc(
                doc_id=doc_id, doc_type="policy", language=p.language, title=f"{p.title}: {p.heading}",
                topic=p.topic, text=f"{p.heading} {body}",
                source_version=_source_version(store_data_dir, f"policies/{p.topic}.{p.language}.md"),
            ))
    for product in catalog.products.values():
        s = catalog.series[product.series_id]
        if product.language == "EN":
            title = f"{s.title}, Vol. {product.volume}"
            text = f"{title} ({product.format}, English edition). {s.title_ja} {product.volume}巻"
        else:
            title = f"{s.title_ja} {product.volume}巻"
            text = f"{title}（{'紙' if product.format == 'print' else '電子'}・日本語版） {s.title}, Vol. {product.volume}"
        docs.append(IndexedDoc(
            doc_id=f"volume:{product.asin}", doc_type="volume", language=product.language.lower(),  # type: ignore[arg-type]
            title=title, text=text, store_id=product.asin, series_id=s.series_id, genres=list(s.genres),
            demographic=s.demographic, format=product.format,
            in_stock=product.stock is None or product.stock > 0,
            source_version=products_version, embedded=False,
        ))
    for d in docs:
        d.content_hash = _hash(embedding_text(d))
    return docs


def embedding_text(doc: IndexedDoc) -> str:
    """What the dense leg sees of a document."""
    return f"{doc.title}\n{doc.text}"


def seed_path(store_data_dir: Path, embedding: EmbeddingIdentity) -> Path:
    """The shipped vector file for a model: `data/embeddings/vectors.<model>.npz`."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{embedding.model_id}-{embedding.version}")
    return store_data_dir / "embeddings" / f"vectors.{safe}.npz"


def load_seed(path: Path, embedding: EmbeddingIdentity) -> dict[str, np.ndarray]:
    """Vectors by content hash from a shipped vector file made by the same model (else none)."""
    if not path.is_file():
        return {}
    with np.load(path) as data:
        if EmbeddingIdentity.model_validate_json(str(data["identity"])) != embedding:
            return {}
        return dict(zip((str(h) for h in data["hashes"]), data["vectors"], strict=True))


def save_seed(path: Path, embedding: EmbeddingIdentity, vectors: dict[str, np.ndarray]) -> None:
    """Write a vector file (hashes sorted, so the same vectors give the same file)."""
    hashes = sorted(vectors)
    matrix = np.vstack([vectors[h] for h in hashes]).astype(np.float32)
    np.savez_compressed(path, identity=np.array(embedding.model_dump_json()), hashes=np.array(hashes),
                        vectors=matrix)


async def run_index(
    backend: SearchBackend,
    embedder: Embedder,
    docs: list[IndexedDoc],
    *,
    rebuild: bool = False,
    seed: dict[str, np.ndarray] | None = None,
    progress: Progress | None = None,
    batch: int = 32,
) -> IndexReport:
    """Embed what changed, write a new version beside the live one and swap it in.

    Vectors are reused from the live index and from `seed` (shipped vectors of the same model)
    when a document's content hash matches. With `rebuild`, every document is embedded again.
    """
    start = time.perf_counter()
    embedded = [d for d in docs if d.embedded]
    reuse: dict[str, np.ndarray] = {}
    if not rebuild:
        wanted = {d.content_hash for d in embedded}
        reuse = {h: v for h, v in (seed or {}).items() if h in wanted}
        try:
            live: IndexIdentity | None = await backend.describe()
        except NoIndex:
            live = None
        # Vectors are reused only from an index built by this very model.
        if live is not None and live.embedding == embedder.identity:
            reuse.update(await backend.stored_vectors([h for h in wanted if h not in reuse]))
    todo = [d for d in embedded if d.content_hash not in reuse]
    vectors: dict[str, np.ndarray] = dict(reuse)
    done = 0
    if progress:
        progress(len(reuse), len(embedded))
    for i in range(0, len(todo), batch):
        chunk = todo[i : i + batch]
        out = await asyncio.to_thread(embedder.embed_documents, [embedding_text(d) for d in chunk])
        for d, vec in zip(chunk, out, strict=True):
            vectors[d.content_hash] = vec
        done += len(chunk)
        if progress:
            progress(len(reuse) + done, len(embedded))
    matrix = (
        np.vstack([vectors[d.content_hash] for d in embedded]).astype(np.float32)
        if embedded else np.empty((0, embedder.identity.dim), dtype=np.float32)
    )
    built = await backend.build(docs, matrix, embedder.identity, build_seconds=time.perf_counter() - start)
    live_identity = await backend.swap(built.version)
    return IndexReport(
        identity=live_identity, documents=len(docs), embedded=len(embedded), reused_vectors=len(reuse),
        newly_embedded=len(todo), seconds=round(time.perf_counter() - start, 2),
    )
