"""Reading a GGUF file's metadata without loading its weights, and refusing broken files.

llama.cpp trusts the file it is given: a truncated download or a file that is
not GGUF can end in a crash instead of an error. So before a file reaches
llama.cpp its header, key/value section and tensor table are parsed here (via
``mmap``, touching only the header pages, which stays fast on a multi-GB file)
and every tensor's data is checked to lie inside the file.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import ModelInfo
from models.errors import ModelError, os_reason

GGUF_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32

# Value types of the key/value section: struct format and size.
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), as in ggml.h.
_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}

# llama.cpp's ``general.file_type`` values (enum llama_ftype) as quantization names.
_FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

# Large arrays (vocabularies, merges) are skipped, not decoded: only their size matters.
_KEEP_ARRAYS_UP_TO = 64


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about itself, including what llama.cpp loading needs
    (layers, KV cache size, chat template); :meth:`model_info` is the backend-neutral view."""

    path: Path
    name: str
    architecture: str
    parameters: int
    quantization: str
    context_length: int
    has_chat_template: bool
    file_size: int
    n_layers: int = 0
    kv_bytes_per_token: int = 0  # f16 K and V for one token over all layers
    chat_template: str = field(default="", repr=False)

    def model_info(self, *, name: str = "", spec: str = "", licence: str = "") -> ModelInfo:
        return ModelInfo(
            name=name or self.name, spec=spec or str(self.path), backend="llama.cpp",
            architecture=self.architecture, parameters=self.parameters,
            quantization=self.quantization, context_length=self.context_length,
            file_size=self.file_size, has_chat_template=self.has_chat_template, licence=licence)

    @property
    def label(self) -> str:
        return self.model_info().label


class _Truncated(Exception):
    pass


class _Cursor:
    """Reads little-endian GGUF values from a buffer, failing cleanly past its end."""

    def __init__(self, buf: Any, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated

    def scalar(self, fmt: str, n: int) -> Any:
        self.need(n)
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return v

    def u32(self) -> int:
        return self.scalar("<I", 4)

    def u64(self) -> int:
        return self.scalar("<Q", 8)

    def string(self) -> str:
        n = self.u64()
        self.need(n)
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.u64()
        self.need(n)
        self.pos += n

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.scalar(*_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.u32(), self.u64()
            if count > _KEEP_ARRAYS_UP_TO:
                self.skip_array(itype, count)
                return _SkippedArray(count)
            return [self.value(itype) for _ in range(count)]
        raise ValueError(f"unknown value type {vtype}")

    def skip_array(self, itype: int, count: int) -> None:
        if itype in _SCALARS:
            n = _SCALARS[itype][1] * count
            self.need(n)
            self.pos += n
        elif itype == _STRING:
            for _ in range(count):
                self.skip_string()
        else:
            for _ in range(count):
                self.value(itype)


@dataclass(frozen=True)
class _SkippedArray:
    count: int


def read_info(path: str | Path) -> GGUFInfo:
    """Parse and check a GGUF file's header; ModelError says what is wrong and what to do."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"Model file not found: {path}. Check the path, or choose 'default' or "
                         "'fast' for a bundled model.")
    if not path.is_file():
        raise ModelError(f"{path} is not a file. Give the path of a .gguf model file.")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            if size < 24 or fh.read(4) != GGUF_MAGIC:
                raise ModelError(
                    f"{path} is not a GGUF model file. Quarry runs llama.cpp models in GGUF "
                    "format (the .gguf files published next to most open models).")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _parse(path, mm, size)
    except OSError as exc:
        raise ModelError(f"Cannot read model file {path}: {os_reason(exc)}.") from None


def _truncated(path: Path, detail: str = "") -> ModelError:
    return ModelError(f"{path} is incomplete (truncated or damaged){detail}. Download or copy it "
                      "again; if it is a bundled model, reinstall Quarry.")


def _parse(path: Path, buf: Any, size: int) -> GGUFInfo:
    cur = _Cursor(buf, size)
    cur.pos = 4
    try:
        version = cur.u32()
        if version not in (2, 3):
            raise ModelError(f"{path} is GGUF version {version}, which this version of Quarry "
                             "cannot read. Use a GGUF v3 file (any recent conversion).")
        n_tensors, n_kv = cur.u64(), cur.u64()
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = cur.string()
            kv[key] = cur.value(cur.u32())
        tensors: list[tuple[str, list[int], int, int]] = []
        for _ in range(n_tensors):
            name = cur.string()
            n_dims = cur.u32()
            if n_dims > 8:
                raise ValueError(f"tensor {name} has {n_dims} dimensions")
            dims = [cur.u64() for _ in range(n_dims)]
            tensors.append((name, dims, cur.u32(), cur.u64()))
    except _Truncated:
        raise _truncated(path, " (its header ends early)") from None
    except (ValueError, struct.error) as exc:
        raise ModelError(f"{path} has a damaged GGUF header ({exc}). Download or convert it "
                         "again.") from None

    align = kv.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(align, int) or align <= 0:
        align = _DEFAULT_ALIGNMENT
    data_start = -(-cur.pos // align) * align
    parameters = 0
    end = data_start
    for name, dims, ttype, offset in tensors:
        count = 1
        for d in dims:
            count *= d
        parameters += count
        if ttype not in _BLOCKS:
            raise ModelError(f"{path} uses tensor type {ttype} (in {name}), which this version "
                             "of Quarry does not know. Use a more common quantization such as "
                             "Q4_K_M or Q8_0.")
        per_block, block_bytes = _BLOCKS[ttype]
        end = max(end, data_start + offset + -(-count // per_block) * block_bytes)
    if end > size:
        raise _truncated(path, f" (it has {size:,} bytes, its tensors need {end:,})")
    return _info(path, kv, tensors, parameters, size)


def _info(path: Path, kv: dict[str, Any], tensors: list, parameters: int, size: int) -> GGUFInfo:
    arch = str(kv.get("general.architecture", "")) or "unknown"

    def arch_int(key: str) -> int:
        v = kv.get(f"{arch}.{key}", 0)
        if isinstance(v, list):  # per-layer values in some architectures
            v = max(v) if v else 0
        return int(v) if isinstance(v, int | float) else 0

    n_layers = arch_int("block_count")
    n_embd, n_head = arch_int("embedding_length"), arch_int("attention.head_count")
    n_head_kv = arch_int("attention.head_count_kv") or n_head
    head_k = arch_int("attention.key_length") or (n_embd // n_head if n_head else 0)
    head_v = arch_int("attention.value_length") or head_k
    kv_bytes = 2 * n_layers * n_head_kv * (head_k + head_v)

    template = kv.get("tokenizer.chat_template", "")
    template = template if isinstance(template, str) else ""
    ftype = kv.get("general.file_type")
    quant = _FILE_TYPES.get(ftype, "") if isinstance(ftype, int) else ""
    if not quant:
        quant = _guess_quant(path.name)
    name = str(kv.get("general.name") or "").strip() or path.stem
    return GGUFInfo(
        path=path, name=name, architecture=arch, parameters=parameters, quantization=quant,
        context_length=arch_int("context_length"), has_chat_template=bool(template),
        file_size=size, n_layers=n_layers, kv_bytes_per_token=kv_bytes, chat_template=template)


def _guess_quant(filename: str) -> str:
    upper = filename.upper()
    for q in sorted(_FILE_TYPES.values(), key=len, reverse=True):
        if q in upper:
            return q
    return "unknown"
