#!/usr/bin/env python
"""Derive the default taxonomy's disclosure support from real self-disclosure text.

Reads the persona sentences of Synthetic-Persona-Chat (Jandaghi et al., 2023, Google Research; CC BY 4.0:
first-person self-disclosures such as "I love to bake cookies.", each listed for the personas that hold
it), maps every sentence to the default-tree leaf it discloses with the package's embedder, and writes
``deeppersona/data/taxonomy/support.tsv``: for every leaf, how many sentence occurrences fell on it and
the smoothed support ``count + alpha``. ``scripts/build_taxonomy.py`` stores that support on the leaves
(and the sums on their branches and roots) of ``default.json``.

Method (reproducible; no LLM):

1. every distinct persona sentence of the validation and test files is counted by how many persona
   lists hold it (a sentence shared by many personas is disclosed that often);
2. sentences and leaves are embedded with ``all-MiniLM-L6-v2`` (the engine's default embedder); a leaf
   is embedded as its branch, name and description ("Animals and Pets: Pets in Household - Which pets
   the person has ...");
3. each sentence goes to its most similar leaf when the cosine similarity is at least ``--threshold``
   (a sentence below it is counted as unassigned; the script prints how many);
4. support = count + ``--alpha`` (additive smoothing: an attribute no sentence disclosed still has a
   small support rather than zero, so the prior stays finite).

Usage::

    python scripts/derive_support.py                        # writes deeppersona/data/taxonomy/support.tsv
    python scripts/derive_support.py --data DIR --threshold 0.35 --alpha 0.5
    python scripts/derive_support.py --check                # fail if support.tsv does not cover the tree

The data are not shipped with the package; ``--data`` defaults to ``../shared/data/synthetic-persona-chat``
next to the repository. Exit status 1 on a missing file or an uncovered tree (with ``--check``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deeppersona.taxonomy import AttributeNode, AttributeTree  # noqa: E402
from deeppersona.taxonomy._outline import parse_outline  # noqa: E402

OUTLINE_DIR = ROOT / "deeppersona" / "data" / "taxonomy" / "outline"
OUTPUT = ROOT / "deeppersona" / "data" / "taxonomy" / "support.tsv"
DATA = ROOT.parent / "shared" / "data" / "synthetic-persona-chat"
FILES = ("Synthetic-Persona-Chat_valid.csv", "Synthetic-Persona-Chat_test.csv")
HEADER = (
    "# Disclosure support of the default taxonomy's leaves, written by scripts/derive_support.py.\n"
    "# Source: Synthetic-Persona-Chat persona sentences (Jandaghi et al., 2023, Google Research), CC BY 4.0,\n"
    "# validation and test splits. Columns: leaf path, sentence occurrences mapped to it, smoothed support.\n"
)


def persona_sentences(data: Path) -> Counter[str]:
    """Every persona sentence of the data files, counted by the persona lists that hold it."""
    counts: Counter[str] = Counter()
    for name in FILES:
        path = data / name
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; pass --data DIR (the Synthetic-Persona-Chat folder)")
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for column in ("user 1 personas", "user 2 personas"):
                    for line in (row.get(column) or "").splitlines():
                        sentence = " ".join(line.split())
                        if sentence:
                            counts[sentence] += 1
    return counts


def leaves(outline_dir: Path) -> list[AttributeNode]:
    """The leaves of the default tree's outline files, in tree order."""
    roots = [
        root
        for file in sorted(outline_dir.glob("*.txt"))
        for root in parse_outline(file.read_text(encoding="utf-8"), source=file.name)
    ]
    return list(AttributeTree(roots, fixed_roots=None).leaves())


def leaf_text(node: AttributeNode) -> str:
    branch = node.parent.name if node.parent is not None and node.depth == 3 else ""
    head = f"{branch}: {node.name}" if branch else node.name
    return f"{head} - {node.description}" if node.description else head


def read_support(path: Path) -> dict[str, tuple[int, float]]:
    """Read ``support.tsv``: leaf path → (count, support)."""
    out: dict[str, tuple[int, float]] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        leaf, count, support = line.split("\t")
        out[leaf] = (int(count), float(support))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the derivation; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATA, help="the Synthetic-Persona-Chat folder")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the TSV file to write")
    parser.add_argument("--threshold", type=float, default=0.35, help="least cosine similarity to assign")
    parser.add_argument("--alpha", type=float, default=0.5, help="additive smoothing of the counts")
    parser.add_argument("--check", action="store_true", help="only check that the output covers the tree")
    args = parser.parse_args(argv)

    nodes = leaves(OUTLINE_DIR)
    if args.check:
        have = read_support(args.output)
        missing = [n.path_str for n in nodes if n.path_str not in have]
        if missing:
            print(
                f"derive_support: {len(missing)} leaves without support, e.g. {missing[:3]}; run the script"
            )
            return 1
        print(f"{args.output} covers all {len(nodes)} leaves")
        return 0
    try:
        sentences = persona_sentences(args.data)
    except FileNotFoundError as exc:
        print(f"derive_support: {exc}", file=sys.stderr)
        return 1

    import numpy as np

    from deeppersona.embeddings import resolve_embedder

    embedder = resolve_embedder("all-MiniLM-L6-v2")
    texts = list(sentences)
    sent = np.asarray(embedder.encode(texts), dtype=np.float32)
    leaf = np.asarray(embedder.encode([leaf_text(n) for n in nodes]), dtype=np.float32)
    sent /= np.linalg.norm(sent, axis=1, keepdims=True) + 1e-12
    leaf /= np.linalg.norm(leaf, axis=1, keepdims=True) + 1e-12
    sims = sent @ leaf.T
    best = sims.argmax(axis=1)
    score = sims[np.arange(len(texts)), best]
    counts: Counter[str] = Counter()
    unassigned = 0
    for i, text in enumerate(texts):
        if score[i] >= args.threshold:
            counts[nodes[int(best[i])].path_str] += sentences[text]
        else:
            unassigned += sentences[text]
    total = sum(sentences.values())
    lines = [HEADER.rstrip("\n")]
    lines.append(
        f"# {len(texts)} distinct sentences, {total} occurrences; threshold {args.threshold}, alpha {args.alpha}; "
        f"{unassigned} occurrences below the threshold; embedder all-MiniLM-L6-v2"
    )
    for node in nodes:
        n = counts.get(node.path_str, 0)
        lines.append(f"{node.path_str}\t{n}\t{n + args.alpha:g}")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hit = sum(1 for n in nodes if counts.get(n.path_str))
    print(
        f"wrote {args.output}: {len(nodes)} leaves, {hit} disclosed at least once; {total} sentence "
        f"occurrences, {total - unassigned} assigned ({(total - unassigned) / max(total, 1):.0%})"
    )
    for path, n in counts.most_common(15):
        print(f"  {n:5d}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
