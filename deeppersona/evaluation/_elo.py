"""Win rates and Elo ratings from pairwise preference judgements (the paper's Table 5).

Elo depends on the order of the battles, so ratings are averaged over ``n_orders`` seeded random orders
(the usual remedy, as in Chatbot Arena's bootstrap); with ``n_orders=1`` and ``shuffle=False`` the battles are
replayed in the given order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import EvaluationError

__all__ = ["elo_ratings", "win_rates"]


def _check(battles: Sequence[tuple[str, str, str]]) -> None:
    for a, b, w in battles:
        if a == b:
            raise EvaluationError(f"a battle needs two different players, got {a!r} twice")
        if w not in (a, b, "tie"):
            raise EvaluationError(f"winner {w!r} is neither {a!r}, {b!r} nor 'tie'")


def elo_ratings(
    battles: Sequence[tuple[str, str, str]],
    *,
    k: float = 16.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    n_orders: int = 100,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, float]:
    """Elo ratings from ``(a, b, winner)`` battles; ``winner`` is ``a``, ``b`` or ``"tie"`` (half a win each).

    Args:
        battles: The battles.
        k: The K-factor (rating change per surprise).
        initial: Everyone's starting rating.
        scale: The logistic scale (400 in chess).
        n_orders: How many random battle orders to average over.
        shuffle: Shuffle the order (seeded); ``False`` replays the given order once.
        seed: Seed of the orders.

    Returns:
        Player → mean rating. Every update is zero-sum, so ratings average to ``initial``.

    Raises:
        EvaluationError: A malformed battle, or no battles.
    """
    if not battles:
        raise EvaluationError("no battles to rate")
    _check(battles)
    players = sorted({p for a, b, _ in battles for p in (a, b)})
    index = {p: i for i, p in enumerate(players)}
    ia = np.array([index[a] for a, _, _ in battles])
    ib = np.array([index[b] for _, b, _ in battles])
    sa = np.array([1.0 if w == a else 0.5 if w == "tie" else 0.0 for a, _, w in battles])
    rng = np.random.default_rng(seed)
    orders = (
        [rng.permutation(len(battles)) for _ in range(n_orders)] if shuffle else [np.arange(len(battles))]
    )
    total = np.zeros(len(players))
    for order in orders:
        r = np.full(len(players), float(initial))
        for t in order:
            expected = 1.0 / (1.0 + 10.0 ** ((r[ib[t]] - r[ia[t]]) / scale))
            delta = k * (sa[t] - expected)
            r[ia[t]] += delta
            r[ib[t]] -= delta
        total += r
    return {p: float(total[i] / len(orders)) for p, i in index.items()}


def win_rates(battles: Sequence[tuple[str, str, str]]) -> dict[str, dict[str, float]]:
    """Wins, losses, ties, battles (ties excluded, as in Table 5) and win rate per player."""
    _check(battles)
    out: dict[str, dict[str, float]] = {}
    for a, b, w in battles:
        for p in (a, b):
            out.setdefault(p, {"wins": 0, "losses": 0, "ties": 0})
        if w == "tie":
            out[a]["ties"] += 1
            out[b]["ties"] += 1
        else:
            loser = b if w == a else a
            out[w]["wins"] += 1
            out[loser]["losses"] += 1
    for rec in out.values():
        rec["battles"] = rec["wins"] + rec["losses"]
        rec["win_rate"] = rec["wins"] / rec["battles"] if rec["battles"] else float("nan")
    return out
