"""Throughput of the embedded models and the effect of llama.cpp's KV-cache reuse on shared prefixes.

Progressive persona prompts share a long prefix (the profile so far) and differ in a short suffix.
llama.cpp keeps the previous prompt's tokens in its KV cache and only evaluates the new suffix; this
script measures generation speed and the time saved by that reuse.

    python benchmarks/bench_local_model.py [--model smollm2-135m] [--tokens 64]
"""

from __future__ import annotations

import argparse
import time

from deeppersona.llm import ModelRegistry
from deeppersona.llm._local import LocalRuntime

PROFILE = " ".join(
    f"Attribute {i}: the person values routine number {i}, enjoys walks, and keeps a notebook of recipes."
    for i in range(60)
)


def _call(runtime: LocalRuntime, model: str, suffix: str, tokens: int) -> tuple[float, int, int]:
    messages = [
        {"role": "system", "content": "You extend persona profiles. Profile so far:\n" + PROFILE},
        {"role": "user", "content": suffix},
    ]
    started = time.perf_counter()
    out = runtime.complete(model, messages, {"max_tokens": tokens, "temperature": 0.0, "seed": 1})
    elapsed = time.perf_counter() - started
    return elapsed, int(out["usage"]["prompt_tokens"]), int(out["usage"]["completion_tokens"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--extra-bufts", choices=("auto", "on", "off"), default="auto",
                        help="llama.cpp extra CPU buffer types (AMX, weight repacking)")  # fmt: skip
    args = parser.parse_args()

    extra = {"auto": None, "on": True, "off": False}[args.extra_bufts]
    runtime = LocalRuntime(ModelRegistry(), n_threads=args.threads, use_extra_bufts=extra)
    started = time.perf_counter()
    loaded = runtime.load(args.model)
    print(f"{args.model}: loaded in {time.perf_counter() - started:.2f}s ({runtime.n_threads} threads)")
    try:
        # warm-up, then a cold call (KV cache cleared) and a warm call (shared prefix kept)
        _call(runtime, args.model, "Warm up.", 4)
        loaded.llama.reset()
        cold, prompt_tokens, _ = _call(runtime, args.model, "Describe the person's hobbies.", 1)
        warm, _, _ = _call(runtime, args.model, "Describe the person's job.", 1)
        print(
            f"prompt of {prompt_tokens} tokens, 1 new token: cold {cold:.2f}s, shared prefix reused {warm:.2f}s "
            f"({cold / max(warm, 1e-9):.1f}x faster)"
        )
        loaded.llama.reset()
        _call(runtime, args.model, "Describe the person's hobbies.", 1)  # prefix in cache
        gen, _, completion = _call(
            runtime, args.model, "Write one long paragraph about their week.", args.tokens
        )
        prefill = warm
        print(
            f"generation: {completion} tokens in {gen - prefill:.2f}s -> {completion / max(gen - prefill, 1e-9):.1f} tok/s"
        )
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
