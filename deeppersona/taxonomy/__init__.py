"""The attribute taxonomy: which attributes a persona can have (paper §3.1).

Public names::

    AttributeTree      the tree (build, look up, validate, merge, plot, save)
    AttributeNode      one attribute category (an anytree node)
    ValueType          a value-type hint (text, categorical, list, number)
    TaxonomyProblem    one problem found by AttributeTree.validate()
    TaxonomyStats      the result of AttributeTree.stats()
    ROOT_CATEGORIES    the paper's twelve first-level categories
    CORE_ATTRIBUTES    paths of the core attributes of the default tree
    canonical_key      the spelling-independent key used for lookups
    normalize_name     rewrite a name in the library's Title Case style
"""

from __future__ import annotations

from ._canonical import canonical_key, normalize_name
from ._conditions import CONDITIONS, applies
from ._constants import CORE_ATTRIBUTES, DEFAULT_MAX_DEPTH, FORMAT_VERSION, PATH_SEPARATOR, ROOT_CATEGORIES
from ._node import AttributeNode, ValueType
from ._stats import TaxonomyStats
from ._tree import AttributeTree
from ._validate import TaxonomyProblem

__all__ = [
    "CONDITIONS",
    "CORE_ATTRIBUTES",
    "DEFAULT_MAX_DEPTH",
    "FORMAT_VERSION",
    "PATH_SEPARATOR",
    "ROOT_CATEGORIES",
    "AttributeNode",
    "AttributeTree",
    "TaxonomyProblem",
    "TaxonomyStats",
    "ValueType",
    "applies",
    "canonical_key",
    "normalize_name",
]
