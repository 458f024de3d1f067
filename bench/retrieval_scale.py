"""How embedded-index query latency grows with corpus size: 1x, 10x and 100x the shipped catalog.

    .venv/bin/python bench/retrieval_scale.py [--scales 1 10 100] [--queries 100] [--json]

The corpus a turn searches (series profiles, reviews and policy sections, every one embedded) is
copied N times: each copy's vectors get small Gaussian noise so copies do not tie, and its postings
are tiled with the same BM25 weights (document frequency and collection size grow together, so the
weights barely move). Volume entries are left out: they are lexical-only and never searched by a
turn. Query vectors are computed once, so the figures are the search alone; the query embedding
time is printed separately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.retrieval import DEFAULT_DATA, load_cases  # noqa: E402
from evals.stats import percentile  # noqa: E402
from mangaassist.settings import get_settings  # noqa: E402
from tools.embedded_backend import EmbeddedBackend, filter_columns, load_version, write_docs  # noqa: E402
from tools.embeddings import get_embedder  # noqa: E402
from tools.rerank import TURN_DOC_TYPES  # noqa: E402
from tools.search_backend import IndexedDoc, SearchFilters  # noqa: E402


def scaled_copy(source: Path, target: Path, n: int, rng: np.random.Generator) -> int:
    """Write an index version holding `n` noisy copies of the searched documents; return its size."""
    v = load_version(source)
    keep = np.array([d["doc_type"] in TURN_DOC_TYPES for d in v.docs])
    old_to_new = np.cumsum(keep) - 1
    base_docs = [d for d, k in zip(v.docs, keep, strict=True) if k]
    m = len(base_docs)
    docs = [{**d, "doc_id": f"{d['doc_id']}#{c}"} for c in range(n) for d in base_docs]
    dense_rows = [r for r, idx in enumerate(v.dense_docs) if keep[idx]]
    vectors = np.asarray(v.vectors)[dense_rows]
    dense_docs = old_to_new[v.dense_docs[dense_rows]]
    all_vecs = []
    for c in range(n):
        noisy = vectors + (rng.normal(0, 0.02, vectors.shape).astype(np.float32) if c else 0)
        all_vecs.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    ptr = [0]
    post_doc: list[np.ndarray] = []
    post_w: list[np.ndarray] = []
    for t in range(len(v.ptr) - 1):
        lo, hi = v.ptr[t], v.ptr[t + 1]
        d = np.asarray(v.post_doc[lo:hi])
        sel = keep[d]
        d, w = old_to_new[d[sel]], np.asarray(v.post_w[lo:hi])[sel]
        post_doc.append(np.concatenate([d + c * m for c in range(n)]))
        post_w.append(np.tile(w, n))
        ptr.append(ptr[-1] + len(d) * n)
    target.mkdir(parents=True)
    np.save(target / "vectors.npy", np.vstack(all_vecs).astype(np.float32))
    np.save(target / "dense_docs.npy", np.concatenate([dense_docs + c * m for c in range(n)]).astype(np.int32))
    np.save(target / "postings_ptr.npy", np.array(ptr, dtype=np.int64))
    np.save(target / "postings_doc.npy", np.concatenate(post_doc).astype(np.int32))
    np.save(target / "postings_w.npy", np.concatenate(post_w).astype(np.float32))
    shutil.copy(source / "terms.json", target / "terms.json")
    write_docs(target, [json.dumps(d, ensure_ascii=False) for d in docs])
    columns, codes = filter_columns([IndexedDoc.model_construct(**d) for d in docs])
    np.savez(target / "columns.npz", **columns)
    (target / "codes.json").write_text(json.dumps(codes), encoding="utf-8")
    identity = v.identity.model_copy(update={"version": target.name, "doc_count": len(docs),
                                             "embedded_count": len(dense_docs) * n})
    (target / "identity.json").write_text(identity.model_dump_json(), encoding="utf-8")
    return len(docs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    live = EmbeddedBackend(settings.index_path)
    if not live.has_index():
        print("no index: run `mangaassist index` first", file=sys.stderr)
        return 2
    source = settings.index_path / "versions" / live.live_sync().identity.version
    queries = [c.query for c in load_cases(DEFAULT_DATA)][: args.queries]
    embedder = get_embedder(settings)
    start = time.perf_counter()
    vectors = [embedder.embed_query(q) for q in queries]
    embed_ms = (time.perf_counter() - start) * 1000 / len(queries)
    filters = SearchFilters(doc_types=TURN_DOC_TYPES)
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.scales:
            root = Path(tmp) / f"x{n}"
            size = scaled_copy(source, root / "versions" / f"x{n}", n, rng)
            (root / "LIVE").write_text(json.dumps({"live": f"x{n}", "previous": None}), encoding="utf-8")
            backend = EmbeddedBackend(root)
            t0 = time.perf_counter()
            backend.live_sync()
            load_s = time.perf_counter() - t0
            times = []
            for q, vec in zip(queries, vectors, strict=True):
                t0 = time.perf_counter()
                backend.search_sync(q, vec, 10, filters)
                times.append((time.perf_counter() - t0) * 1000)
            rows.append({"scale": n, "documents": size, "load_s": round(load_s, 3),
                         "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2)})
            shutil.rmtree(root)
    if args.json:
        print(json.dumps({"query_embedding_ms": round(embed_ms, 2), "scales": rows}))
    else:
        print(f"query embedding ({embedder.identity.model_id}): {embed_ms:.1f} ms per query")
        print(f"{'scale':>6} {'documents':>10} {'load s':>7} {'p50 ms':>7} {'p95 ms':>7}")
        for r in rows:
            print(f"{r['scale']:>6} {r['documents']:>10} {r['load_s']:>7} {r['p50_ms']:>7} {r['p95_ms']:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
