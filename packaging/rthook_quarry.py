"""Runs first inside the installed app: offline, and no writes beside the user's data folder.

Libraries that cache things (Hugging Face, torch) are pointed into Quarry's
data directory, so the installed app writes nowhere else in the user's home.
"""

import contextlib
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Where the bundle keeps its read-only GGUF files; models.locate looks here first.
os.environ.setdefault("QUARRY_BUNDLED_MODELS", os.path.join(sys._MEIPASS, "bundled_models"))


def _cache_dirs() -> None:
    from rag.paths import data_dir

    cache = data_dir() / "cache"
    os.environ.setdefault("HF_HOME", str(cache / "huggingface"))
    os.environ.setdefault("TORCH_HOME", str(cache / "torch"))


with contextlib.suppress(Exception):  # never stop the app from starting over a cache location
    _cache_dirs()

if os.environ.get("QUARRY_EXIT_WHEN_SHOWN"):
    import startup_probe

    startup_probe.install()
