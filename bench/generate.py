"""Generation speed through models/ against raw llama_cpp.Llama, in the same run.

Both sides load the same GGUF with the same context, threads and GPU layers, and
answer the same formatted prompt with the same greedy decoding; rounds alternate
which side goes first and each round's prompt starts differently, so neither
side gets a warmer KV cache. Printed: median time to first token and tokens/s,
the ratios (models/ over raw; 1.0 means no overhead, target >= 0.95), the
process CPU time per run (with --threads 1 this stays meaningful on a busy
machine, where wall-clock figures swing with other load), the device string,
and peak RSS.

    python bench/generate.py                  # the small and the default model
    python bench/generate.py --model small --rounds 5 --tokens 64
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import models  # noqa: E402
from models.backends.llama_cpp import LlamaCppLLM  # noqa: E402
from models.decoding import DecodingParams  # noqa: E402

PASSAGE = (
    "Northwind's travel policy sets the budget for 2023 at $45,000, shared between the sales "
    "and engineering teams. Economy class is required for flights under six hours; longer "
    "flights may be booked in premium economy with a manager's approval. Hotels should be "
    "within walking distance of the office being visited, and receipts must be submitted "
    "within thirty days of returning. Laptops are replaced every four years, and the IT "
    "helpdesk, run by Maria Lopez, answers questions about equipment and remote access. ")


def messages(round_no: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Session {round_no}. You answer from the passages."},
        {"role": "user", "content": "Passages:\n" + PASSAGE * 3 +
         "\nWrite a detailed summary of every rule above, one paragraph per rule."}]


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


Run = tuple[float, float, int, float]  # TTFT s, tokens/s, tokens, CPU seconds of the run


def run_ours(llm: LlamaCppLLM, prompt: str, params: DecodingParams) -> Run:
    cpu = time.process_time()
    g = llm.complete(prompt, params)
    return g.ttft_s, g.tokens_per_s, g.completion_tokens, time.process_time() - cpu


def run_raw(raw, prompt: str, params: DecodingParams) -> Run:
    """The plain llama-cpp-python streaming loop; one chunk per token for this ASCII text."""
    cpu = time.process_time()
    started = time.perf_counter()
    first = None
    n = 0
    for chunk in raw.create_completion(
            prompt, max_tokens=params.max_tokens, temperature=params.temperature,
            top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
            typical_p=params.typical_p, repeat_penalty=params.repeat_penalty,
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty, mirostat_mode=params.mirostat_mode,
            mirostat_tau=params.mirostat_tau, mirostat_eta=params.mirostat_eta,
            seed=params.seed, stream=True):
        if first is None:
            first = time.perf_counter()
        if chunk["choices"][0]["text"]:
            n += 1
    end = time.perf_counter()
    first = first or end
    rate = (n - 1) / (end - first) if n > 1 and end > first else 0.0
    return first - started, rate, n, time.process_time() - cpu


def bench(spec: str, rounds: int, tokens: int, threads: int, n_ctx: int,
          gpu_layers: int) -> None:
    import llama_cpp

    llm = models.load(spec, n_ctx=n_ctx, threads=threads, gpu_layers=gpu_layers)
    layers = llm.gpu_layers
    raw = llama_cpp.Llama(model_path=str(llm.gguf.path), n_ctx=llm.n_ctx, n_threads=threads,
                          n_threads_batch=threads, n_gpu_layers=layers, verbose=False)
    raw.last_n_tokens_size = 64
    params = DecodingParams(temperature=0.0, seed=1, max_tokens=tokens, repeat_penalty=1.1,
                            repeat_last_n=64)
    ours_runs, raw_runs = [], []
    for i in range(rounds):
        prompt = llm.format_chat(messages(i))
        if i % 2 == 0:
            ours_runs.append(run_ours(llm, prompt, params))
            raw_runs.append(run_raw(raw, prompt, params))
        else:
            raw_runs.append(run_raw(raw, prompt, params))
            ours_runs.append(run_ours(llm, prompt, params))
    prompt_tokens = len(llm.prompt_tokens(llm.format_chat(messages(0))))

    def med(runs: list[Run], k: int) -> float:
        return statistics.median(r[k] for r in runs)

    o_ttft, r_ttft = med(ours_runs, 0), med(raw_runs, 0)
    o_tps, r_tps = med(ours_runs, 1), med(raw_runs, 1)
    print(f"model:   {llm.info.label}")
    print(f"device:  {llm.device}   (n_ctx {llm.n_ctx}, prompt {prompt_tokens} tokens, "
          f"{tokens} new tokens, {rounds} rounds, medians)")
    print(f"  time to first token  models/ {o_ttft:7.3f} s   raw {r_ttft:7.3f} s   "
          f"ratio (raw/models, speed) {r_ttft / o_ttft:5.3f}")
    print(f"  generation           models/ {o_tps:7.1f} t/s raw {r_tps:7.1f} t/s "
          f"ratio (models/raw)         {o_tps / r_tps:5.3f}")
    o_cpu, r_cpu = med(ours_runs, 3), med(raw_runs, 3)
    print(f"  CPU time per run     models/ {o_cpu:7.2f} s   raw {r_cpu:7.2f} s   "
          f"ratio (raw/models)         {r_cpu / o_cpu:5.3f}  (robust when the machine is busy)")
    print(f"  per round TTFT (s)   models/ {[round(r[0], 2) for r in ours_runs]}  raw "
          f"{[round(r[0], 2) for r in raw_runs]}")
    print(f"  per round t/s        models/ {[round(r[1], 1) for r in ours_runs]}  raw "
          f"{[round(r[1], 1) for r in raw_runs]}")
    print(f"  tokens produced      models/ {[r[2] for r in ours_runs]}  raw "
          f"{[r[2] for r in raw_runs]}")
    print(f"  peak RSS so far      {peak_rss_mb():.0f} MB")
    llm.close()
    raw.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="small, default or a GGUF path "
                    "(repeatable; default: small and default)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=0, help="0 = physical cores")
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--gpu-layers", type=int, default=-1)
    ns = ap.parse_args()
    from models.offload import physical_cores

    threads = ns.threads or physical_cores()
    for spec in ns.model or ["small", "default"]:
        bench(spec, ns.rounds, ns.tokens, threads, ns.ctx, ns.gpu_layers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
