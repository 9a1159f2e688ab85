"""Grammar-constrained sampling that checks the grammar on the top-k candidates only.

llama-cpp-python's sampler chain applies a JSON-schema grammar to the *whole* vocabulary before top-k
(151,936 tokens for Qwen2.5), for every generated token. On a 2-core CPU that check costs about as much
as the model's forward pass: the embedded 1.5B model wrote structured replies at about half its
unconstrained speed. :func:`top_k_grammar_llama` returns a ``Llama`` subclass whose chain is
penalties → top-k → grammar → typical → top-p → min-p → temperature → sampling: the grammar only looks at
the k most likely tokens. When none of them is allowed (rare: the model almost always ranks a valid JSON
token among its top 40), the grammar is applied to the whole vocabulary for that one token and the k best
allowed tokens take their place, so the output obeys the grammar exactly as before.

The sampler is a ctypes object, like llama-cpp-python's own ``CustomSampler``; it is removed from the
chain before the chain is freed, and frees its grammar sampler itself.
"""

from __future__ import annotations

import copy
import ctypes
import math
from typing import Any

import numpy as np

__all__ = ["TopKGrammar", "top_k_grammar_llama", "with_banned_tokens"]


class TopKGrammar:
    """A llama.cpp sampler that applies ``grammar`` to the candidates it is given (the top k).

    Args:
        llama: The ``Llama`` instance (its vocabulary, context and vocabulary size are used).
        grammar: A ``llama_cpp.LlamaGrammar``; token ids in its ``banned_tokens`` attribute, where it has
            one (see :func:`with_banned_tokens`), are never sampled.
    """

    def __init__(self, llama: Any, grammar: Any) -> None:
        import llama_cpp

        self._banned = frozenset(int(t) for t in getattr(grammar, "banned_tokens", ()))
        self._lib = llama_cpp
        self._ctx = llama._ctx.ctx
        self._n_vocab = int(llama._n_vocab)
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self.fallbacks = 0
        """Tokens for which no top-k candidate was allowed (the whole vocabulary was checked)."""
        iface = llama_cpp.llama_sampler_i()
        self._apply_ref = llama_cpp.llama_sampler_i_apply(self._apply)
        self._accept_ref = llama_cpp.llama_sampler_i_accept(self._accept)
        iface.apply = self._apply_ref
        iface.accept = self._accept_ref
        iface.name = llama_cpp.llama_sampler_i_name(0)
        iface.reset = llama_cpp.llama_sampler_i_reset(0)
        iface.clone = llama_cpp.llama_sampler_i_clone(0)
        iface.free = llama_cpp.llama_sampler_i_free(0)
        self._iface = iface
        self.sampler = llama_cpp.llama_sampler()
        self.sampler.iface = ctypes.pointer(iface)
        self.sampler.ctx = None

    def get_sampler(self) -> Any:
        """The pointer to add to a sampler chain."""
        return ctypes.pointer(self.sampler)

    def close(self) -> None:
        """Free the grammar sampler (after the chain no longer calls this one). Idempotent."""
        grammar, self._grammar = self._grammar, None
        if grammar:
            self._lib.llama_sampler_free(grammar)

    def _accept(self, _sampler: Any, token: int) -> None:
        if self._grammar:
            self._lib.llama_sampler_accept(self._grammar, token)

    def _apply(self, _sampler: Any, cur_p: Any) -> None:
        lib = self._lib
        array = cur_p.contents
        lib.llama_sampler_apply(self._grammar, cur_p)
        size = int(array.size)
        data = array.data
        # keep the allowed tokens, in their order: the array stays sorted when it was (top-k sorts it, and
        # the samplers after this one rely on that flag)
        banned = self._banned
        kept = 0
        for i in range(size):
            if not math.isinf(data[i].logit) and data[i].id not in banned:
                if kept != i:
                    data[kept].id, data[kept].logit, data[kept].p = data[i].id, data[i].logit, data[i].p
                kept += 1
        if kept:
            array.size = kept
            array.selected = -1
            return
        # none of the top-k tokens is allowed: check the whole vocabulary for this token, and put the
        # best allowed ones in place of the top k (only the first `size` entries are written)
        self.fallbacks += 1
        logits = lib.llama_get_logits_ith(self._ctx, -1)
        full = (lib.llama_token_data * self._n_vocab)()
        view = np.ctypeslib.as_array(full)
        view["id"] = np.arange(self._n_vocab, dtype=np.int32)
        view["logit"] = np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        view["p"] = 0.0
        full_array = lib.llama_token_data_array(data=full, size=self._n_vocab, selected=-1, sorted=False)
        lib.llama_sampler_apply(self._grammar, ctypes.byref(full_array))
        allowed = np.flatnonzero(np.isfinite(view["logit"]))
        if banned:  # unless the grammar allows nothing else
            unbanned = allowed[~np.isin(allowed, np.fromiter(banned, dtype=np.int64))]
            allowed = unbanned if unbanned.size else allowed
        if allowed.size == 0:
            return  # the grammar allows nothing: leave it to llama.cpp, as without this sampler
        best = allowed[np.argsort(-view["logit"][allowed], kind="stable")[: max(1, size)]]
        for i, index in enumerate(best):  # best first: the array is sorted
            data[i].id = int(view["id"][index])
            data[i].logit = float(view["logit"][index])
            data[i].p = 0.0
        array.size = len(best)
        array.sorted = True
        array.selected = -1


def with_banned_tokens(grammar: Any, tokens: Any) -> Any:
    """A copy of ``grammar`` (a ``llama_cpp.LlamaGrammar``) under which :class:`TopKGrammar` never samples
    ``tokens`` (e.g. the first word of a value that was refused)."""
    banned = copy.copy(grammar)
    banned.banned_tokens = frozenset(int(t) for t in tokens)
    return banned


def top_k_grammar_llama(llama_class: type) -> type:
    """Return a subclass of ``llama_class`` (``llama_cpp.Llama``) that samples with :class:`TopKGrammar`.

    Only the usual chain is changed (a grammar, top-k > 0, no mirostat, no logits processors); anything
    else is left to ``llama_class``.
    """

    class TopKGrammarLlama(llama_class):  # type: ignore[misc,valid-type]
        def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
            import llama_cpp
            from llama_cpp import _internals

            grammar = kwargs.get("grammar")
            top_k = int(kwargs.get("top_k", 40))
            if (
                args
                or grammar is None
                or top_k <= 0
                or kwargs.get("mirostat_mode", 0)
                or kwargs.get("logits_processor") is not None
            ):
                return super()._init_sampler(*args, **kwargs)
            temp = float(kwargs.get("temp", 0.8))
            sampler = _internals.LlamaSampler()
            sampler.add_penalties(
                n_vocab=self._n_vocab,
                penalty_last_n=self.last_n_tokens_size,
                penalty_repeat=kwargs.get("repeat_penalty", 1.0),
                penalty_freq=kwargs.get("frequency_penalty", 0.0),
                penalty_present=kwargs.get("presence_penalty", 0.0),
            )
            sampler.add_top_k(top_k)
            constrained = TopKGrammar(self, grammar)
            llama_cpp.llama_sampler_chain_add(sampler.sampler, constrained.get_sampler())
            # removed from the chain before the chain is freed (llama.cpp must not free a ctypes object);
            # the exit stack runs close() first, then the chain's own clean-up
            sampler.custom_samplers.append(
                (llama_cpp.llama_sampler_chain_n(sampler.sampler) - 1, constrained)  # type: ignore[arg-type]
            )
            sampler._exit_stack.callback(constrained.close)
            if temp < 0.0:
                sampler.add_dist(self._seed)
            elif temp == 0.0:
                sampler.add_greedy()
            else:
                sampler.add_typical(kwargs.get("typical_p", 1.0), 1)
                sampler.add_top_p(kwargs.get("top_p", 0.95), 1)
                sampler.add_min_p(kwargs.get("min_p", 0.05), 1)
                sampler.add_temp(temp)
                sampler.add_dist(self._seed)
            self._last_grammar_sampler = constrained
            return sampler

    TopKGrammarLlama.__name__ = TopKGrammarLlama.__qualname__ = f"TopKGrammar{llama_class.__name__}"
    return TopKGrammarLlama
