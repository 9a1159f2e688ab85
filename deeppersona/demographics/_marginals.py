"""The population views of a :class:`~deeppersona.demographics.DemographicSampler`: the exact marginal
distributions it draws from for a cohort, and a sample's marginals compared with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DemographicsError
from ._models import LIFE_STAGES, MAX_AGE, STAGE_OCCUPATION, Cohort
from ._occupations import EMPLOYED
from ._tables import AGE_GROUP_LABELS, AGE_GROUPS

if TYPE_CHECKING:
    from ._sampler import DemographicSampler

__all__ = ["compare_marginals", "expected_marginals"]


def expected_marginals(sampler: DemographicSampler, cohort: Cohort) -> dict[str, pd.Series]:
    """See :meth:`DemographicSampler.expected_marginals` (``cohort`` already built)."""
    spec, _ = sampler._spec(cohort, None)
    plan = sampler._plan(spec, cohort)
    codes = sampler.tables.country_codes
    names = sampler.tables.countries["name"].to_numpy(dtype=object)
    ages = np.zeros(MAX_AGE + 1)
    stage_tot = np.zeros(len(LIFE_STAGES))
    group: dict[str, float] = {}
    occ: dict[str, float] = {}
    city: dict[str, float] = {}
    stages = sampler._stage_matrix()
    for row, pc in zip(plan.country_rows, plan.country_weight, strict=True):
        cp = sampler._country_plan(plan, int(row))
        age_p = np.diff(cp.age_cum, prepend=0.0) / cp.age_cum[-1]
        ages += pc * age_p
        allowed, _, _ = sampler._allowed_stages(spec, str(codes[row]))
        sw = stages * allowed
        rowsum = sw.sum(axis=1, keepdims=True)
        sp = np.divide(sw, rowsum, out=np.zeros_like(sw), where=rowsum > 0)
        st = pc * (age_p @ sp)
        stage_tot += st
        for k, s in enumerate(LIFE_STAGES):
            if s != "employed" and st[k] > 0:
                label = STAGE_OCCUPATION[s]
                group[label] = group.get(label, 0.0) + st[k]
                occ[label] = occ.get(label, 0.0) + st[k]
        if st[EMPLOYED] > 0:
            op = np.diff(cp.occ_cum, prepend=0.0) / cp.occ_cum[-1]
            for title, grp, p in zip(cp.titles, cp.groups, op, strict=True):
                if p > 0:
                    occ[title] = occ.get(title, 0.0) + st[EMPLOYED] * p
                    group[grp] = group.get(grp, 0.0) + st[EMPLOYED] * p
        cw = np.diff(cp.city_cum, prepend=0.0) / cp.city_cum[-1]
        for name, p in zip(cp.city_names, cw, strict=True):
            key = f"{name}, {codes[row]}"
            city[key] = city.get(key, 0.0) + pc * p
    age_groups = pd.Series(
        [ages[lo : hi + 1].sum() for lo, hi in AGE_GROUPS], index=list(AGE_GROUP_LABELS), name="expected"
    )
    gp = np.diff(plan.gender_cum, prepend=0.0) / plan.gender_cum[-1]

    def series(d: Mapping[str, float]) -> pd.Series:
        return pd.Series(d, dtype=float, name="expected").sort_values(ascending=False, kind="stable")

    return {
        "country": pd.Series(
            plan.country_weight, index=names[plan.country_rows], name="expected"
        ).sort_values(ascending=False, kind="stable"),
        "age_group": age_groups,
        "gender": pd.Series(gp, index=plan.gender_values, name="expected"),
        "life_stage": pd.Series(stage_tot, index=list(LIFE_STAGES), name="expected"),
        "occupation_group": series(group),
        "occupation": series(occ),
        "city": series(city),
    }


def compare_marginals(
    sampler: DemographicSampler,
    sample: pd.DataFrame | None,
    *,
    n: int,
    seed: int | np.random.Generator | None,
    cohort: Cohort,
    top: int | None,
) -> pd.DataFrame:
    """See :meth:`DemographicSampler.compare_marginals` (``cohort`` already built)."""
    if sample is None:
        sample = sampler.sample(n, seed=seed, cohort=cohort, names=False)
    if sample.empty:
        raise DemographicsError("the sample is empty")
    expected = expected_marginals(sampler, cohort)
    size = len(sample)
    observed_keys = {
        "country": sample["country"],
        "age_group": pd.cut(
            sample["age"],
            bins=[lo - 0.5 for lo, _ in AGE_GROUPS] + [MAX_AGE + 0.5],
            labels=list(AGE_GROUP_LABELS),
        ).astype(str),
        "gender": sample["gender"],
        "life_stage": sample["life_stage"],
        "occupation_group": sample["occupation_group"],
        "occupation": sample["occupation"],
        "city": sample["city"].astype(str) + ", " + sample["country_code"].astype(str),
    }
    frames = []
    for var, exp in expected.items():
        obs = observed_keys[var].value_counts(normalize=True)
        exp = exp if top is None or var == "age_group" else exp.iloc[:top]
        df = pd.DataFrame({"category": exp.index.astype(str), "expected": exp.to_numpy()})
        df["observed"] = df["category"].map(obs).fillna(0.0).to_numpy()
        df.insert(0, "variable", var)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["difference"] = out["observed"] - out["expected"]
    out["se"] = np.sqrt(out["expected"] * (1 - out["expected"]) / size)
    out["z"] = np.divide(out["difference"], out["se"], out=np.zeros(len(out)), where=out["se"].to_numpy() > 0)
    return out
