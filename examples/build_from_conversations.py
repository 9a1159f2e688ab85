"""Build a taxonomy from real conversation turns, then grow the default tree with what they disclose.

The turns are the builder's gold set: 180 utterances of Synthetic-Persona-Chat conversations
(Jandaghi et al., 2023, Google Research; CC BY 4.0), shipped with the package
(``deeppersona.builder.conversations_path()``). Each turn is a question without an answer.

Run::

    python examples/build_from_conversations.py                  # embedded local model, 24 turns (minutes)
    python examples/build_from_conversations.py --limit 180      # every turn
    python examples/build_from_conversations.py --model gpt-4.1-mini --limit 180
    DEEPPERSONA_EXAMPLES_FAST=1 python examples/build_from_conversations.py   # offline fakes, seconds

It prints the stage report of the build (what each stage kept and dropped, and why), the attributes
found with the words that disclosed them, the nodes that extending the default tree added, each with
its support (how many extracted paths reached it), and how many extracted paths the default tree
already had. The extension reuses the build's LLM results
(the builder's checkpoint), so it costs no new classify or extract calls.
"""

from __future__ import annotations

import argparse
import os
import time

from deeppersona.builder import TaxonomyBuilder, conversations_path
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import fake_builder_llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a LiteLLM model string (default: the embedded model)")
    parser.add_argument("--limit", type=int, default=None, help="number of turns (default: 24, fast: all)")
    args = parser.parse_args()

    if os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1":  # the test suite's offline mode
        from deeppersona.testing import HashEmbedder

        llm, embedder, limit, extra = (
            fake_builder_llm(),
            HashEmbedder(256),
            args.limit,
            {"merge_threshold": 0.5},
        )
    else:
        llm, embedder, limit, extra = args.model, None, args.limit or 24, {}
    builder = TaxonomyBuilder(
        llm=llm,  # None: the embedded local model
        embedder=embedder,
        fields=("text", None),  # a conversation turn, no answer
        one_call=True,  # classify and extract in one call per turn
        progress=True,
        **extra,
    )

    started = time.perf_counter()
    built = builder.build(conversations_path(), limit=limit)
    print(built.to_markdown())
    print(f"\n{len(built.records)} turns in {time.perf_counter() - started:.0f}s; attributes they disclose:")
    for record in built.records:
        for path, value in zip(record.paths, record.values, strict=False):
            print(f"  {' > '.join(path)}: {value!r}  <- {record.question[:60]!r}")

    default = AttributeTree.default()
    extended = builder.extend(default, conversations_path(), limit=limit)
    added = {path: n for path, n in extended.path_counts.items() if default.find(path) is None}
    print(f"\nextending the default tree added {len(added)} node(s):")
    for path, support in sorted(added.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {' > '.join(path)}  (support {support})")
    found = [p for r in built.records for p in r.paths]
    known = sum(1 for p in found if default.find(p) is not None)
    print(f"{known} of the {len(found)} extracted paths were already nodes of the default tree")


if __name__ == "__main__":
    main()
