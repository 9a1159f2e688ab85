"""A tour of the attribute taxonomy.

Loads the default tree, prints its statistics, looks a path up in a sloppy spelling, builds and
validates a small custom tree, merges it into the default, and saves a sunburst PNG of the domain
distribution (the paper's Figure 3) to a temporary folder. Runs offline in about a second.

    python examples/taxonomy_tour.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from deeppersona.taxonomy import AttributeTree


def main() -> None:
    tree = AttributeTree.default()
    print(tree)
    print(tree.stats())

    # Canonical lookup: case, spacing, punctuation, snake_case and CamelCase all match.
    node = tree.get("physical_and_health_characteristics > SleepHealth")
    print(f"\nfound {node.path_str!r} (level {node.depth}): {node.description}")
    print("  attributes:", ", ".join(child.name for child in node.children[:6]), "...")
    print("core attributes:", [n.path_str for n in tree.core_nodes()][:3], "...")

    # A small custom tree, built from paths, with one deliberate mistake.
    custom = AttributeTree.from_paths(
        [
            "Physical and Health Characteristics > Sleep Health > Dream Recall",
            "Hobbies, Interests, and Lifestyle > Hobbies and Interests > Urban Sketching",
            "Hobbies, Interests, and Lifestyle > hobbies_and_interests > Sourdough Baking",
            "Media Consumption and Engagement > Video Game Play > Favourite Console Brand X",
        ]
    )
    custom.add_path("Physical and Health Characteristics > Sleep Health", description="How the person sleeps")
    print("\ncustom tree:\n" + custom.render())
    for problem in custom.validate(style=True):
        print("  problem:", problem)
    custom.remove("Media Consumption and Engagement > Video Game Play > Favourite Console Brand X")

    merged = tree.merge(custom, prefer="self")
    print(f"\nmerged: {len(tree)} + custom -> {len(merged)} nodes; valid: {not merged.validate()}")
    print("fingerprints:", tree.fingerprint(), "->", merged.fingerprint())

    with tempfile.TemporaryDirectory() as folder:
        png = Path(folder) / "taxonomy_sunburst.png"
        tree.plot_sunburst(png, title="deeppersona default taxonomy")
        print(f"\nsaved a sunburst PNG of {png.stat().st_size // 1024} KiB to {png}")
        saved = tree.save(Path(folder) / "taxonomy.json")
        assert AttributeTree.load(saved) == tree
        print(f"saved and reloaded {saved.name}: round trip exact")

    table = tree.to_pandas()
    print("\nnodes per level:", table.groupby("depth").size().to_dict())


if __name__ == "__main__":
    main()
