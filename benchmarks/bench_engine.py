"""Benchmark of the persona engine (issues 5 and 15). Prints five figures:

1. LLM calls per persona at k=220 (issue 15 target <= 11), with prompt and completion tokens per persona;
2. engine overhead per persona at k=220 with the default MiniLM embedder at concurrency 32: wall time per
   persona against a FakeLLM that answers at once with cheap scripted replies, so everything measured is
   the engine's own work (target <= 10 ms); the old single-persona figure (LLM time excluded) with it;
3. throughput of 1,000 personas at concurrency 256 against a FakeLLM sleeping 200 ms per call, with the
   default MiniLM embedder, as a share of the calls-bound ideal ``concurrency / (calls per persona x
   latency)`` (target >= 85 %);
4. with ``--local``: seconds per persona of the embedded default model, with and without KV prefix reuse
   (target <= 600 s at k=220 on 2 cores);
5. with ``--ray``: Ray Data with 2 actors against 1 on a CPU-bound FakeLLM (each call busy for
   ``--work-ms``), the speed-up (target >= 1.6x on 2 cores).

Run it on an otherwise idle machine: the figures are times.

Usage::

    python benchmarks/bench_engine.py                 # figures 1-3 (a few minutes on 2 cores)
    python benchmarks/bench_engine.py --hash          # figures 2-3 with the hash embedder instead of MiniLM
    python benchmarks/bench_engine.py --local --k 220 # also figure 4 (slow on CPU)
    python benchmarks/bench_engine.py --local-only --reuse on --local-k 40  # figure 4 only, one mode
    python benchmarks/bench_engine.py --local-only --reuse on --save /tmp/p  # and keep its personas to read
    python benchmarks/bench_engine.py --ray-only      # figure 5 only (needs the ray extra)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deeppersona.demographics import DemographicSampler
from deeppersona.embeddings import Embedder
from deeppersona.engine import PersonaEngine
from deeppersona.generation import ConsistencyReport, CoreChain, FillReply
from deeppersona.llm import LLM, LLMResponse
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, FakeRequest, HashEmbedder


class TimedLLM(LLM):
    """Wraps an LLM and adds up the wall time spent inside its calls."""

    def __init__(self, inner: LLM, before_call: Any = None, trace: Any = None) -> None:
        super().__init__()
        self.trace = trace
        self.inner = inner
        self.model = inner.model
        self.max_concurrency = inner.max_concurrency  # the engine sizes its personas in flight by it
        self.seconds = 0.0
        self.calls = 0
        self.before_call = before_call

    async def acomplete(
        self, messages: Sequence[Any], response_model: Any = None, **kwargs: Any
    ) -> LLMResponse[Any]:
        if self.before_call is not None:
            self.before_call()
        start = time.perf_counter()
        try:
            return await self.inner.acomplete(messages, response_model, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            self.calls += 1
            if self.trace is not None:
                self.trace(self.calls, kwargs.get("call_site", "default"), elapsed)


def engine_for(tree: AttributeTree, llm: LLM, embedder: Any, sampler: DemographicSampler) -> PersonaEngine:
    return (
        PersonaEngine.from_taxonomy(tree, model=llm, embedder=embedder)
        .with_sampler(sampler)
        .with_seed(1)
        .with_options(progress=False)
    )


def warm_sampler(sampler: DemographicSampler, draws: int = 400) -> None:
    """Load the sampler's per-country name generators once (a one-off cost per country, cached on the sampler)."""
    import numpy as np

    for i in range(draws):
        sampler.draw(np.random.default_rng([99, i]))


class ProfileLengths(Embedder):
    """Passes encodes through to ``inner`` and records the word count of each single-text encode (a profile)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.words: list[int] = []

    def cache_config(self) -> dict[str, Any]:
        """The inner embedder's identity (the word counts recorded here are no configuration: they
        would change the embedder's fingerprint with every profile)."""
        from deeppersona.embeddings._cache import embedder_config

        return embedder_config(self.inner)

    def encode(self, texts: Sequence[str]) -> Any:
        if len(texts) == 1:
            self.words.append(len(texts[0].split()))
        return self.inner.encode(texts)


_STORY = (
    "When the textile mill in {place} closed in {year}, {pronoun} spent two winters repairing radios at the "
    "market to keep the family fed. The work taught patience and a habit of listening before speaking; a regular "
    "customer later offered a clerk's job, and the steady wage paid for a younger sibling's schooling."
)


def realistic_core(request: FakeRequest) -> Any:
    """Core chains as long as a real model writes them (the schema FakeLLM's are shorter), varied by the seed.

    The selector embeds the core profile, so its length sets the embedding cost in figure 2.
    """
    if request.response_model is not CoreChain:
        return None
    seed = int(request.seed or 0)
    stories = 1 + seed % 3
    return {
        "values_orientation": "Loyalty to family and quiet self-reliance over ambition",
        "attitude": "Life is hard but fair to the patient.",
        "attitude_details": "Plans every week on paper, saves a little from each wage and avoids debts, "
        "favours, loud people and shortcuts.",
        "coping_mechanism": "Long walks at dawn and fixing things with the hands.",
        "life_stories": [
            _STORY.format(place=p, year=1990 + seed % 30, pronoun="they")
            for p in ("the old river district", "the northern quarter", "the port town")[:stories]
        ],
        "interests": ["Repairing old radios", "Birdwatching along the river", "Neighbourhood chess"][
            : 2 + seed % 2
        ],
    }


def calls_and_overhead(
    tree: AttributeTree,
    sampler: DemographicSampler,
    embedder: Any,
    k: int,
    n: int,
    *,
    realistic: bool = False,
) -> None:
    """Figure 1 (calls and tokens per persona) and the single-persona overhead, LLM time excluded."""
    llm = TimedLLM(FakeLLM(seed=1, handler=realistic_core if realistic else None, max_concurrency=1))
    embedder = ProfileLengths(embedder)
    engine = engine_for(tree, llm, embedder, sampler)
    engine.generate(k=k, n=2)  # warm-up: candidate index and embeddings, template compilation
    warm_sampler(sampler)
    llm.seconds, llm.calls = 0.0, 0
    llm.inner.usage.reset()
    embedder.words.clear()
    start = time.perf_counter()
    pop = engine.generate(k=k, n=n, start=2)
    total = time.perf_counter() - start
    calls = llm.calls / n
    if not realistic:
        usage = llm.inner.usage.total
        print(f"[1] LLM calls per persona at k={k}: {calls:.2f} (target <= 11; planned "
              f"{engine.calls_per_persona(k)}); tokens per persona: prompt {usage.prompt_tokens / n:.0f}, "
              f"completion {usage.completion_tokens / n:.0f} (FakeLLM counts; real replies are longer)  "
              f"[by site: { {s: u.calls for s, u in llm.inner.usage.by_call_site().items()} }]")  # fmt: skip
        return
    overhead_ms = (total - llm.seconds) / n * 1000
    words = sum(embedder.words) / max(1, len(embedder.words))
    print(f"    one persona at a time: {overhead_ms:.1f} ms/persona excluding LLM time (embedder "
          f"{embedder.name}; core profile {words:.0f} words, core chains as long as a real model writes; "
          f"{len(pop)} personas)")  # fmt: skip


def engine_overhead(
    tree: AttributeTree, sampler: DemographicSampler, embedder: Any, k: int, n: int, concurrency: int
) -> None:
    """Figure 2: wall time per persona when the LLM answers at once, ``concurrency`` calls in flight."""
    from deeppersona.embeddings._batcher import EmbeddingBatcher

    llm = FakeLLM(seed=1, handler=cheap_reply, max_concurrency=concurrency)
    engine = engine_for(tree, llm, embedder, sampler).with_options(fsync=False)
    engine.generate(k=k, n=2, start=20_000)  # warm-up outside the timing
    warm_sampler(sampler)
    batches: list[int] = []
    profiles: list[str] = []
    real_encode = EmbeddingBatcher._rows

    def counting(self: EmbeddingBatcher, texts: list[str]) -> Any:
        batches.append(len(texts))
        profiles.extend(texts[: max(0, 64 - len(profiles))])
        return real_encode(self, texts)

    EmbeddingBatcher._rows = counting  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    try:
        start, cpu = time.perf_counter(), time.process_time()
        pop = asyncio.run(engine.agenerate(k=k, n=n))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        EmbeddingBatcher._rows = real_encode  # type: ignore[method-assign]
    per = wall / n * 1000
    print(f"[2] engine overhead per persona at k={k}, concurrency {concurrency}, embedder "
          f"{getattr(embedder, 'name', embedder)}: {per:.1f} ms (target <= 10 ms; process CPU "
          f"{cpu / n * 1000:.1f} ms/persona incl. the fake's replies; profiles embedded "
          f"{sum(batches) / max(1, len(batches)):.1f} per encode call; {len(pop)} personas; "
          f"loadavg before {load:.2f} on {os.cpu_count()} CPUs)")  # fmt: skip
    if profiles and not isinstance(embedder, HashEmbedder):
        # the floor the embedder alone sets: its CPU time per profile on one thread (more threads add
        # their busy-waiting to the CPU time), measured with nothing else running
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            cpu = time.process_time()
            embedder.encode(profiles)
            cpu = (time.process_time() - cpu) / len(profiles) * 1000
        finally:
            torch.set_num_threads(threads)
        print(f"    the embedder alone, one thread, {len(profiles)} of these profiles in one call: {cpu:.1f} ms "
              f"of CPU per profile, so at least {cpu / (os.cpu_count() or 1):.1f} ms per persona on "
              f"{os.cpu_count()} CPUs before any of the engine's own work")  # fmt: skip


_CORE = {
    "values_orientation": "Self-reliance above all",
    "attitude": "Life rewards the stubborn.",
    "attitude_details": "She keeps lists, distrusts shortcuts and rarely asks anyone for help with anything.",
    "coping_mechanism": "Long walks and cheap cigarettes.",
    "life_stories": ["A flood took the family shop in 2012; she rebuilt it alone."],
    "interests": ["Night fishing", "Radio dramas"],
}


_VALUE_NUMBER = itertools.count(1)


def cheap_reply(request: FakeRequest) -> Any:
    """Fill replies that pass the value gates at almost no CPU cost, like a remote API whose time is all
    network wait (distinct phrases; options, numbers and lists of the schema). The rest (core chain,
    circumstances, consistency, narrative) falls through to the FakeLLM's schema-generated replies."""
    model = request.response_model
    if isinstance(model, type) and issubclass(model, FillReply):
        out: dict[str, Any] = {}
        for key, prop in model.json_schema["properties"].items():
            n = next(_VALUE_NUMBER)
            phrase = f"walks {n} blocks to the Kibera matatu stage at dawn"
            if "enum" in prop:
                out[key] = prop["enum"][0]
            elif prop.get("type") == "number":
                out[key] = prop.get("minimum", 2)
            else:
                out[key] = [phrase] if prop.get("type") == "array" else phrase
        return out
    if model is ConsistencyReport:
        return {"contradictions": []}
    return None


def throughput(tree: AttributeTree, sampler: DemographicSampler, embedder: Any, k: int, n: int, concurrency: int,
               latency: float, *, schema_fake: bool = False) -> None:  # fmt: skip
    llm = FakeLLM(
        seed=1, latency=latency, handler=None if schema_fake else cheap_reply, max_concurrency=concurrency
    )
    engine = engine_for(tree, llm, embedder, sampler).with_options(fsync=False)
    calls_per_persona = engine.calls_per_persona(k)
    engine.generate(k=k, n=1, start=10_000)  # warm-up outside the timing
    warm_sampler(sampler)
    start = time.perf_counter()
    pop = asyncio.run(engine.agenerate(k=k, n=n))
    elapsed = time.perf_counter() - start
    ideal = concurrency / (calls_per_persona * latency)
    actual = len(pop) / elapsed
    print(f"[3] {n} personas, concurrency {concurrency}, {latency * 1000:.0f} ms/call, {calls_per_persona} calls/persona: "
          f"{actual:.2f} personas/s vs ideal {ideal:.2f} = {actual / ideal:.0%} (target >= 85%; "
          f"peak in-flight calls {llm.max_active}; embedder {getattr(embedder, 'name', embedder)}; "
          f"{'schema-generating FakeLLM' if schema_fake else 'FakeLLM with cheap scripted replies'})")  # fmt: skip


class PromptEvalCounter:
    """Counts the prompt tokens llama.cpp evaluates (KV-cache hits are not evaluated) and resets the cache on demand.

    ``Llama.eval`` receives the prompt suffix left after the prefix match in one call, then one token per
    generated token; calls with more than one token are prompt evaluations.
    """

    def __init__(self, backend: Any, reuse: bool) -> None:
        self.backend = backend
        self.reuse = reuse
        self.prompt_tokens = 0
        self.prompt_evals = 0
        self._wrapped: set[int] = set()

    def _llamas(self) -> list[Any]:
        runtime = getattr(self.backend, "_runtime", None)
        return [loaded.llama for loaded in list(getattr(runtime, "_models", {}).values())]

    def before_call(self) -> None:
        for llama in self._llamas():
            if id(llama) not in self._wrapped:
                self._wrap(llama)
            if not self.reuse:
                llama.reset()  # forget the KV cache: the whole prompt is evaluated again

    def _wrap(self, llama: Any) -> None:
        original = llama.eval

        def counting_eval(tokens: Any) -> Any:
            if len(tokens) > 1:
                self.prompt_tokens += len(tokens)
                self.prompt_evals += 1
            return original(tokens)

        llama.eval = counting_eval
        self._wrapped.add(id(llama))


def local_model(tree: AttributeTree, sampler: DemographicSampler, k: int, n: int, model: str | None,
                modes: Sequence[bool] = (True, False), save: str | None = None) -> None:  # fmt: skip
    from deeppersona.embeddings import resolve_embedder
    from deeppersona.llm import resolve_llm

    embedder = resolve_embedder(None)
    # warm-up outside the timing: candidate embeddings of the taxonomy (cached on disk), sampler names
    warm = engine_for(tree, FakeLLM(seed=1, max_concurrency=1), embedder, sampler)
    warm.generate(k=k, n=1, start=10_000)
    warm_sampler(sampler)
    for reuse in modes:
        backend = resolve_llm(model)
        counter = PromptEvalCounter(backend, reuse)
        started = time.perf_counter()
        asyncio.run(backend.preflight())  # the runtime (weights verified), then the weights loaded
        backend._runtime.load(backend.model)
        load_s = time.perf_counter() - started

        def trace(i: int, site: str, seconds: float, counter: PromptEvalCounter = counter) -> None:
            print(f"    call {i:2d} {site:12s} {seconds:7.1f}s  prompt tokens evaluated so far "
                  f"{counter.prompt_tokens}", file=sys.stderr, flush=True)  # fmt: skip

        llm = TimedLLM(backend, before_call=counter.before_call, trace=trace)
        engine = engine_for(tree, llm, embedder, sampler)  # a local model: one call at a time
        load = os.getloadavg()
        start = time.perf_counter()
        pop = engine.generate(k=k, n=n)
        per = (time.perf_counter() - start) / n
        total = backend.usage.total
        complete = sum(len(p.attributes) for p in pop) / max(1, len(pop))
        print(f"[4] embedded model {backend.model}, k={k}: {per:.1f} s/persona with{'' if reuse else 'out'} "
              f"KV prefix reuse ({llm.calls / n:.1f} calls/persona, {len(pop.failures)} failed; "
              f"prompt tokens sent {total.prompt_tokens / n:.0f}/persona, evaluated "
              f"{counter.prompt_tokens / n:.0f}/persona in {counter.prompt_evals} evals; "
              f"completion tokens {total.completion_tokens / n:.0f}/persona; "
              f"{complete:.0f} attributes/persona; load {load_s:.1f}s; "
              f"loadavg before {load[0]:.2f}, after {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
        if save:  # the personas, to read and to score (deeppersona evaluate quality FILE)
            out = Path(save).with_suffix(f".reuse-{'on' if reuse else 'off'}.jsonl")
            pop.to_jsonl(out, include_failures=True)
            print(f"    personas written to {out}", flush=True)
        backend.close()


def busy_reply(request: FakeRequest) -> Any:
    """A FakeLLM handler that holds the CPU for ``BUSY_SECONDS`` per call, like a local model (then falls
    through to the schema-generated reply). Module-level, so Ray ships it to its actors."""
    end = time.perf_counter() + float(os.environ.get("BENCH_BUSY_SECONDS", "0.03"))
    while time.perf_counter() < end:
        pass
    return None


def ray_speedup(n: int, k: int, work_ms: float) -> None:
    """Figure 5: personas per second on Ray Data with two actors against one, CPU-bound FakeLLM."""
    import logging

    import ray

    from deeppersona.engine import map_personas

    os.environ["BENCH_BUSY_SECONDS"] = str(work_ms / 1000)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
             runtime_env={"env_vars": {"BENCH_BUSY_SECONDS": str(work_ms / 1000)}})  # fmt: skip
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        engine = PersonaEngine.from_taxonomy(
            "default", model=FakeLLM(seed=1, handler=busy_reply), embedder="hash"
        )
        pipeline = engine.cohort(country="Kenya").with_seed(7).with_options(progress=False).pipeline(k=k)
        map_personas(ray.data.range(4), pipeline, actors=2, batch_size=2, num_cpus=0.5).take_all()  # warm-up
        seconds = {}
        for actors in (1, 2, 1, 2):  # each twice, the faster kept: actor start-up and caches warm alike
            start = time.perf_counter()
            rows = map_personas(
                ray.data.range(n), pipeline, actors=actors, batch_size=4, num_cpus=0.5
            ).take_all()
            took = time.perf_counter() - start
            seconds[actors] = min(took, seconds.get(actors, took))
            assert len(rows) == n
        print(f"[5] Ray Data, {n} personas at k={k}, {work_ms:.0f} ms of CPU per call: 1 actor {seconds[1]:.1f} s, "
              f"2 actors {seconds[2]:.1f} s, speed-up {seconds[1] / seconds[2]:.2f}x (target >= 1.6x)")  # fmt: skip
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, default=220)
    parser.add_argument(
        "--n", type=int, default=50, help="personas for figure 1 and the one-at-a-time overhead"
    )
    parser.add_argument("--overhead-n", type=int, default=256, help="personas for figure 2")
    parser.add_argument("--overhead-concurrency", type=int, default=32)
    parser.add_argument("--throughput-n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=256, help="calls in flight for figure 3")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--schema-fake", action="store_true",
                        help="also run figure 3 with the default (schema-generating, CPU-heavier) FakeLLM")  # fmt: skip
    parser.add_argument("--hash", action="store_true", help="figures 2-3 with the hash embedder, not MiniLM")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads for MiniLM (default: torch's)")  # fmt: skip
    parser.add_argument("--local", action="store_true", help="also time the embedded default model (slow)")
    parser.add_argument(
        "--local-k", type=int, default=None, help="k for the local-model figure (default --k)"
    )
    parser.add_argument("--local-n", type=int, default=1)
    parser.add_argument(
        "--model", default=None, help="local model for figure 4 (default: the embedded default)"
    )
    parser.add_argument("--local-only", action="store_true", help="skip figures 1-3")
    parser.add_argument("--reuse", choices=("both", "on", "off"), default="both",
                        help="figure 4 with KV prefix reuse, without it, or both (default)")  # fmt: skip
    parser.add_argument("--save", default=None,
                        help="figure 4: write its personas to SAVE.reuse-on.jsonl / SAVE.reuse-off.jsonl")  # fmt: skip
    parser.add_argument("--ray", action="store_true", help="also figure 5: Ray Data, 2 actors against 1")
    parser.add_argument("--ray-only", action="store_true", help="figure 5 only")
    parser.add_argument(
        "--ray-n",
        type=int,
        default=192,
        help="personas for figure 5 (enough that the actors' start-up is not most of it)",
    )
    parser.add_argument(
        "--work-ms", type=float, default=30.0, help="CPU milliseconds per FakeLLM call (figure 5)"
    )
    parser.add_argument(
        "--verbose", "-v", action="count", default=0,
        help="log deeppersona's INFO messages (refusals, re-asks); twice: DEBUG (each refused value)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("deeppersona").setLevel(logging.INFO if args.verbose == 1 else logging.DEBUG)
    if args.ray_only:
        ray_speedup(args.ray_n, 30, args.work_ms)
        return

    tree = AttributeTree.default()
    sampler = DemographicSampler()
    if args.hash:
        embedder: Any = HashEmbedder()
    else:
        from deeppersona.embeddings import resolve_embedder

        embedder = resolve_embedder(None)
        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
    if not args.local_only:
        calls_and_overhead(tree, sampler, HashEmbedder(), args.k, args.n)
        engine_overhead(tree, sampler, embedder, args.k, args.overhead_n, args.overhead_concurrency)
        calls_and_overhead(tree, sampler, embedder, args.k, args.n, realistic=True)
        throughput(tree, sampler, embedder, args.k, args.throughput_n, args.concurrency, args.latency)
    if args.schema_fake and not args.local_only:
        throughput(tree, sampler, embedder, args.k, args.throughput_n, args.concurrency, args.latency,
                   schema_fake=True)  # fmt: skip
    if args.local or args.local_only:
        modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.reuse]
        local_model(tree, sampler, args.local_k or args.k, args.local_n, args.model, modes, args.save)
    if args.ray:
        ray_speedup(args.ray_n, 30, args.work_ms)


if __name__ == "__main__":
    main()
