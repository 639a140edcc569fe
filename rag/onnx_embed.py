"""The embedding model on onnxruntime, int8: the same vectors, several times less work.

The transformer of a local sentence-transformers folder is exported with
``torch.onnx.export`` and its matrix products are quantized to int8 with one
scale per output channel (``quantize_dynamic``, MatMul only: the embedding
lookup and layer norms stay float). Quantizing every op with one scale per
tensor gave vectors only 0.95 cosine to the float ones; this recipe gives about
0.99 and leaves retrieval hit@k unchanged (``bench/retrieval.py``). Pooling
(mean or CLS, as the folder's ``1_Pooling`` says) and normalisation run in
numpy, tokenization in the model's own Rust tokenizer: no torch at run time.

The export is made locally, never downloaded: on first use (or at install, with
``python -m rag.onnx_embed``), into ``paths.cache_dir()/embeddings/<key>/``,
where the key names the model's fingerprint, the onnxruntime and torch
versions and this recipe's version, so an upgrade makes a fresh export instead
of running a stale one. The file is written to a temporary name and renamed,
so a crash mid-export leaves nothing half-written behind.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag import paths

log = logging.getLogger(__name__)

RECIPE = "int8-matmul-perchannel-eager-2"
MODEL_FILE = "model.int8.onnx"
_PLAIN_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}
# How close the int8 vectors must stay to the float ones on a few probe sentences for
# an export to be kept (measured 0.99 on average; a broken export is far lower).
_MIN_PROBE_COSINE = 0.97
_PROBES = [
    "The company's revenue grew eight percent in the third quarter.",
    "Employees may book economy class for flights under six hours.",
    "What is the capital of France?",
    "Net income attributable to shareholders was $1.2 billion, down from $1.5 billion.",
]
_export_lock = threading.Lock()
# Padded tokens per batch: one passage of the full 256-token window, or several short
# ones. Measured on 2 cores on FinanceBench passages (about 190 tokens, two sessions side
# by side), 256 tokens a batch embed about 8% faster than 512 and 15% faster than 2,048:
# a small batch's activations and attention scores stay in cache, and little is padded.
BATCH_TOKENS = 256
# At most this many sessions run batches side by side, one per core (more cores give
# each session more threads): two one-thread sessions on 2 cores embed faster than one
# two-thread session, which waits for its slower thread at every operator.
MAX_SESSIONS = 4


class ExportError(RuntimeError):
    """The model could not be exported or quantized here; the message says why."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pooling(path: Path) -> str | None:
    cfg = _read_json(path / "1_Pooling" / "config.json") or {}
    if cfg.get("pooling_mode_mean_tokens") and not cfg.get("pooling_mode_cls_token"):
        return "mean"
    if cfg.get("pooling_mode_cls_token") and not cfg.get("pooling_mode_mean_tokens"):
        return "cls"
    return None


def supports(path: Path) -> bool:
    """Whether the folder's model can run here on onnxruntime: onnxruntime is installed,
    and the model is a plain transformer with mean or CLS pooling and a tokenizer.json."""
    if importlib.util.find_spec("onnxruntime") is None:
        return False
    modules = _read_json(path / "modules.json")
    if not isinstance(modules, list) or not modules:
        return False
    if any(m.get("type") not in _PLAIN_MODULES for m in modules if isinstance(m, dict)):
        return False
    if not (path / "tokenizer.json").is_file() or _pooling(path) is None:
        return False
    if (export_dir(path) / MODEL_FILE).is_file():
        return True  # made before: the quantizer (a tenth of a second to import) is not needed
    try:  # the int8 export needs onnxruntime's quantizer, whose helpers a bundle may lack
        import onnxruntime.quantization  # noqa: F401
    except Exception:
        log.warning("onnxruntime's quantizer cannot be imported; embedding with torch")
        return False
    return True


def max_tokens(path: Path) -> int:
    """The model's window as sentence-transformers uses it (its max_seq_length)."""
    cfg = _read_json(path / "sentence_bert_config.json") or {}
    config = _read_json(path / "config.json") or {}
    return int(cfg.get("max_seq_length") or config.get("max_position_embeddings") or 512)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(path: Path) -> str:
    """Model fingerprint + runtime versions + recipe: a change to any makes a new export."""
    from rag.embeddings import _fingerprint

    ort = _version("onnxruntime")
    torch = _version("torch").split("+")[0]
    return f"{path.name[:40]}-{_fingerprint(path)}-ort{ort}-torch{torch}-{RECIPE}"


def export_dir(path: Path) -> Path:
    return paths.cache_dir() / "embeddings" / cache_key(path)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _layout(cores: int) -> tuple[int, int]:
    """(sessions, threads per session) for ``cores``: one session per core, up to
    ``MAX_SESSIONS``, and the cores beyond that shared out as threads."""
    sessions = max(1, min(cores, MAX_SESSIONS))
    return sessions, max(1, cores // sessions)


class OnnxEmbedder:
    """A loaded int8 export: ``embed(texts)`` gives unit-length float32 vectors.

    Thread-safe: each call takes sessions from a pool, so a question's vector waits for
    one small batch of an indexing run at most, never for the whole of it.
    """

    def __init__(self, model_path: Path, onnx_file: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens(model_path)
        self.pooling = _pooling(model_path) or "mean"
        tok = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_tokens)
        self._tokenizer = tok
        count, threads = _layout(_cores())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        first = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        # Each session holds its own copy of the int8 weights (about 60 MB).
        sessions = [first] + [
            ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
            for _ in range(count - 1)
        ]
        self._inputs = {i.name for i in first.get_inputs()}
        self._free: queue.Queue = queue.Queue()
        for session in sessions:
            self._free.put(session)
        self.sessions = count
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def open(cls, model_path: Path) -> OnnxEmbedder:
        """The export of ``model_path``, made first if this machine has none yet."""
        target = export_dir(model_path) / MODEL_FILE
        if not target.is_file():
            export(model_path, target)
        return cls(model_path, target)

    def embed(
        self, texts: list[str], batch_size: int = 32, workers: int | None = None
    ) -> np.ndarray:
        """Vectors for ``texts``, shape (len(texts), dim), float32, unit length.

        Texts are batched longest first, like sentence-transformers, so a batch
        pads to lengths that are alike; a batch holds at most ``batch_size`` texts
        and about ``BATCH_TOKENS`` tokens, so short texts go many at a time and
        long ones few (on a CPU a smaller batch of long texts stays in cache).
        Batches run on up to ``workers`` sessions at once (all of them by default);
        a batch's vectors do not depend on which session ran it.
        """
        texts = list(texts)
        encodings = self._tokenizer.encode_batch(texts)
        # Ties are broken by the text: activations are quantized per batch, so the same
        # texts in another order must make the same batches to get the same vectors.
        order = np.asarray(
            sorted(range(len(texts)), key=lambda j: (-len(encodings[j].ids), texts[j])),
            dtype=np.int64,
        )
        batches = _batches([len(encodings[j].ids) for j in order], order, batch_size)
        lanes = min(workers or self.sessions, self.sessions, len(batches))
        if lanes <= 1:
            done = self._run_lane(iter(batches), threading.Lock(), encodings)
        else:
            todo, lock = iter(batches), threading.Lock()
            futures = [
                self._executor().submit(self._run_lane, todo, lock, encodings) for _ in range(lanes)
            ]
            done = [pair for f in futures for pair in f.result()]
        out: np.ndarray | None = None
        for idx, vec in done:
            if out is None:
                out = np.zeros((len(texts), vec.shape[1]), dtype=np.float32)
            out[idx] = vec
        assert out is not None
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.sessions, thread_name_prefix="quarry-embed")
            return self._pool

    def _run_lane(
        self, todo, lock: threading.Lock, encodings
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Take batches from ``todo`` until none is left, on one session of the pool."""
        session = self._free.get()
        out = []
        try:
            while True:
                with lock:
                    idx = next(todo, None)
                if idx is None:
                    return out
                out.append((idx, self._run_batch(session, idx, encodings)))
        finally:
            self._free.put(session)

    def _run_batch(self, session, idx: np.ndarray, encodings) -> np.ndarray:
        width = max(len(encodings[j].ids) for j in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        types = np.zeros((len(idx), width), dtype=np.int64)
        for row, j in enumerate(idx):
            e = encodings[j]
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = 1
            types[row, :n] = e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = types
        hidden = session.run(None, feeds)[0]
        if self.pooling == "cls":
            vec = hidden[:, 0, :]
        else:
            m = mask[..., None].astype(np.float32)
            vec = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)


def _batches(lengths: list[int], order: np.ndarray, most: int) -> list[np.ndarray]:
    """``order`` (longest first, with its ``lengths``) cut into batches of at most ``most``
    texts whose padded size stays within ``BATCH_TOKENS`` (a longer text goes alone)."""
    out, start = [], 0
    while start < len(order):
        width = max(lengths[start], 1)  # the longest of the batch: all pad to it
        size = max(1, min(most, BATCH_TOKENS // width))
        out.append(order[start : start + size])
        start += size
    return out


def export(model_path: Path, target: Path) -> None:
    """Export and quantize ``model_path`` to ``target`` (atomically), and check it."""
    with _export_lock:
        if target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="export-", dir=target.parent))
        try:
            float_file = work / "model.onnx"
            int8_file = work / MODEL_FILE
            _export_float(model_path, float_file)
            _quantize(float_file, int8_file)
            _check(model_path, int8_file)
            os.replace(int8_file, target)
        except ExportError:
            raise
        except Exception as exc:  # torch, onnx and onnxruntime raise many kinds
            raise ExportError(
                f"Could not prepare the fast embedding runtime for {model_path.name} "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("Exported %s to %s", model_path, target)


def _export_float(model_path: Path, out: Path) -> None:
    from rag.embeddings import _offline

    _offline()
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # Eager attention exports as plain matrix products and a softmax, which onnxruntime
    # fuses and runs a quarter faster than the graph exported from torch's SDPA kernel.
    base = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state, called with keyword inputs (newer
        transformers take more positional arguments than the export passes)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(base),
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def _quantize(float_file: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on the root logger
    try:
        quantize_dynamic(
            str(float_file),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def _check(model_path: Path, int8_file: Path) -> None:
    """Refuse an export whose vectors stray from the float model's on probe sentences."""
    from sentence_transformers import SentenceTransformer

    float_model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    want = float_model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxEmbedder(model_path, int8_file).embed(_PROBES)
    worst = float(np.min(np.sum(want * got, axis=1)))
    if worst < _MIN_PROBE_COSINE:
        raise ExportError(
            f"The int8 export of {model_path.name} strays from the float model "
            f"(cosine {worst:.3f} on a probe sentence)."
        )


if __name__ == "__main__":  # make the export at install time: python -m rag.onnx_embed
    from rag.embeddings import resolve_model_path

    where = export_dir(resolve_model_path("default"))
    OnnxEmbedder.open(resolve_model_path("default"))
    print(f"int8 embedding model ready in {where}")
