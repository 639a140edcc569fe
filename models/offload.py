"""What this llama.cpp build can run on, and how a model is fitted onto it.

Offload is decided once per load: all layers on the GPU when the build can
offload, none otherwise, or what the user asked for. If llama.cpp cannot load
the model with that many layers (usually out of GPU memory) the load is retried
with half as many, then a quarter, then on the CPU, and the user is told what
happened instead of seeing a crash. Context length and threads are chosen here
too, from the model's metadata and the machine's memory and cores.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from models.errors import ModelError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Why 8192 on CPU: prompt evaluation runs at tens to a few hundred tokens/s there,
# so a longer prompt means minutes before the first word, and llama.cpp reserves the
# whole KV cache up front. A GPU reads prompts ~100x faster, so it gets more room.
CPU_CTX_CAP = 8192
GPU_CTX_CAP = 32768
MIN_CTX = 512
_KV_MEMORY_SHARE = 0.5  # of the memory left once the weights are loaded


@dataclass(frozen=True)
class Backend:
    """The compute devices this llama.cpp build sees."""

    offload: bool  # llama_supports_gpu_offload()
    kind: str  # "CUDA", "Metal", "Vulkan", "ROCm", … or "none"
    gpus: tuple[str, ...] = ()  # device descriptions, e.g. "NVIDIA H100 80GB HBM3"
    gpu_free_bytes: int = 0
    cpu: str = ""  # CPU description as ggml reports it
    cpu_features: tuple[str, ...] = ()  # e.g. ("AVX2", "FMA")


def _ggml_devices() -> list[tuple[str, str, int, int]]:
    """(name, description, type, free bytes) for each ggml device; empty if unavailable."""
    try:
        from llama_cpp._ggml import libggml as lib

        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_get.restype = ctypes.c_void_p
        lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        for fn in (lib.ggml_backend_dev_name, lib.ggml_backend_dev_description):
            fn.restype = ctypes.c_char_p
            fn.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_type.restype = ctypes.c_int
        lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_memory.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
        out = []
        for i in range(lib.ggml_backend_dev_count()):
            dev = lib.ggml_backend_dev_get(i)
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
            out.append((lib.ggml_backend_dev_name(dev).decode(errors="replace"),
                        lib.ggml_backend_dev_description(dev).decode(errors="replace"),
                        lib.ggml_backend_dev_type(dev), free.value))
        return out
    except Exception as exc:  # an older or unusual build: fall back to system info only
        log.debug("ggml device list unavailable: %s", exc)
        return []


_KINDS = ("CUDA", "Metal", "Vulkan", "ROCm", "HIP", "SYCL", "OpenCL", "CANN", "MUSA")


@functools.cache
def detect_backend() -> Backend:
    """Ask the loaded llama.cpp library what it can run on (imports llama_cpp)."""
    import llama_cpp

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    devices = _ggml_devices()
    gpus = tuple(desc for _name, desc, dtype, _free in devices if dtype in (1, 2))
    free = sum(f for _n, _d, dtype, f in devices if dtype in (1, 2))
    cpu = next((desc for _n, desc, dtype, _f in devices if dtype == 0), "")
    kind = "none"
    if offload:
        names = " ".join(n for n, _d, dtype, _f in devices if dtype in (1, 2)) + " " + info
        kind = next((k for k in _KINDS if k.lower() in names.lower()), "GPU")
    features = tuple(f for f in ("AVX512", "AVX2", "AVX", "NEON", "AMX")
                     if f"{f} = 1" in info)
    return Backend(offload=offload, kind=kind, gpus=gpus, gpu_free_bytes=free, cpu=cpu,
                   cpu_features=features)


def physical_cores() -> int:
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception:
        n = None
    return max(1, n or os.cpu_count() or 1)


def cpu_description(threads: int, backend: Backend) -> str:
    best = backend.cpu_features[0] if backend.cpu_features else ""
    return f"CPU ({threads} thread{'s' if threads != 1 else ''}{', ' + best if best else ''})"


def describe_device(backend: Backend | None = None, *, gpu_layers: int | None = None,
                    n_layers: int = 0, threads: int = 0) -> str:
    """A human-readable device line, e.g. 'CUDA: NVIDIA H100, 28/28 layers' or
    'CPU (2 threads, AVX2)'. Without a model, says what a load would use."""
    try:
        backend = backend or detect_backend()
    except Exception as exc:  # llama_cpp missing or broken: still say something useful
        return f"unknown (llama.cpp unavailable: {exc})"
    threads = threads or physical_cores()
    cpu = cpu_description(threads, backend)
    if not backend.offload or gpu_layers == 0:
        return cpu
    gpu = f"{backend.kind}: {', '.join(backend.gpus) or 'GPU'}"
    if gpu_layers is None:
        return gpu
    shown = n_layers if gpu_layers < 0 or (n_layers and gpu_layers > n_layers) else gpu_layers
    text = f"{gpu}, {shown}/{n_layers} layers" if n_layers else f"{gpu}, {gpu_layers} layers"
    return text if n_layers and shown >= n_layers else f"{text}; rest on {cpu}"


def layer_plan(requested: int, n_layers: int, backend: Backend) -> list[int]:
    """The GPU layer counts to try, in order, ending on 0 (CPU) whenever offload is tried.

    ``requested`` -1 means all layers when offload is possible, none otherwise.
    """
    if not backend.offload or requested == 0:
        return [0]
    full = n_layers if n_layers > 0 else 999
    first = full if requested < 0 else min(requested, full)
    plan = [first]
    for n in (first // 2, first // 4):
        if 0 < n < plan[-1]:
            plan.append(n)
    return plan + [0]


def load_with_fallback(make: Callable[[int], T], plan: list[int], n_layers: int,
                       describe: str) -> tuple[T, int, str]:
    """Call ``make(gpu_layers)`` along ``plan`` until one succeeds.

    Returns the result, the layer count that worked and a note for the user (empty
    when the first try worked). ``make`` raises to signal failure (llama-cpp-python
    raises ValueError when llama.cpp cannot load a model, e.g. out of GPU memory).
    """
    failures: list[str] = []
    for i, layers in enumerate(plan):
        try:
            result = make(layers)
        except (ValueError, RuntimeError, MemoryError, OSError) as exc:
            what = "on the CPU" if layers == 0 else f"with {layers} layers on the GPU"
            log.warning("Loading %s %s failed: %s", describe, what, exc)
            failures.append(what)
            if i == len(plan) - 1:
                tried = "; ".join(failures)
                raise ModelError(
                    f"llama.cpp could not load {describe} ({tried} failed). The file may be "
                    "damaged, or need more memory than this computer has free: close other "
                    "programs, choose a smaller model, or lower --ctx.") from None
            continue
        note = ""
        if failures:
            where = ("on the CPU only" if layers == 0 else
                     f"with {layers} of {n_layers or '?'} layers on the GPU")
            note = (f"The model did not fit in GPU memory {failures[0]}, so it runs {where}; "
                    "answers will be slower. Set --gpu-layers lower or choose a smaller "
                    "model to avoid the retries.")
        return result, layers, note
    raise ModelError(f"No way to load {describe} was tried.")  # plan was empty


def choose_ctx(requested: int, trained: int, kv_bytes_per_token: int, weights_bytes: int,
               on_gpu: bool, available_bytes: int | None = None) -> tuple[int, str]:
    """The context length to allocate, and why when it is less than the model's.

    0 means automatic: the trained length, capped (see CPU_CTX_CAP) and capped again so
    the KV cache takes at most half the memory left after the weights.
    """
    trained = trained or 4096
    if requested > 0:
        return requested, ""
    cap = GPU_CTX_CAP if on_gpu else CPU_CTX_CAP
    ctx, why = trained, ""
    if ctx > cap:
        ctx, why = cap, f"capped at {cap} tokens for speed on {'GPU' if on_gpu else 'CPU'}"
    if available_bytes is None:
        try:
            import psutil

            available_bytes = psutil.virtual_memory().available
        except Exception:
            available_bytes = 0
    if available_bytes and kv_bytes_per_token and not on_gpu:
        budget = max(0, available_bytes - weights_bytes) * _KV_MEMORY_SHARE
        fits = int(budget // kv_bytes_per_token) // 256 * 256
        if fits < ctx:
            ctx = max(MIN_CTX, fits)
            why = f"limited to {ctx} tokens by free memory"
    return ctx, why
