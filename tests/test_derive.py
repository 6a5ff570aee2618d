"""Derivation rules of contract section 1, checked on every combination of parental
education (9 x 9) against the rules written out independently here."""
import itertools

import pandas as pd
import pytest

from mut_eval.intake.derive import (age_at, derive_person, first_generation, migration_background,
                             origin_from_countries, ses)

LEVELS = ["none", "primary", "vmbo", "mbo", "havo", "vwo", "hbo", "wo", "unknown"]
# Ordinal position in the Dutch system; hbo and wo are higher education.
RANK = {"none": 0, "primary": 1, "vmbo": 2, "mbo": 3, "havo": 4, "vwo": 5, "hbo": 6, "wo": 7}


def expected_ses(a, b):
    known = [RANK[x] for x in (a, b) if x != "unknown"]
    if not known:
        return "unknown"
    if max(known) >= RANK["hbo"]:          # a parent holds an hbo or wo degree
        return "high"
    if max(known) < RANK["havo"]:          # no parent completed havo or higher
        return "low"
    return "middle"                         # best is havo or vwo


def expected_first_generation(a, b):
    known = [x for x in (a, b) if x != "unknown"]
    if not known:
        return "unknown"
    return "no" if ("vwo" in known or "wo" in known) else "yes"


@pytest.mark.parametrize("a,b", list(itertools.product(LEVELS, LEVELS)))
def test_ses_and_first_generation_every_combination(a, b):
    assert ses(a, b) == expected_ses(a, b)
    assert first_generation(a, b) == expected_first_generation(a, b)
    # symmetric in the two parents
    assert ses(a, b) == ses(b, a)


def test_hand_examples_from_the_contract():
    assert ses("mbo", "vmbo") == "low"
    assert ses("havo", "mbo") == "middle"
    assert ses("wo", "none") == "high"
    assert ses("unknown", "mbo") == "low"         # from the known value only
    assert ses("unknown", "unknown") == "unknown"
    assert first_generation("hbo", "hbo") == "yes"  # hbo is not vwo/wo
    assert first_generation("vwo", "mbo") == "no"
    assert ses(None, "hbo") == "high"


@pytest.mark.parametrize("origin,expected", [
    ("dutch", "no"), ("moroccan", "yes"), ("turkish", "yes"), ("surinamese", "yes"), ("antillean", "yes"),
    ("other_western", "yes"), ("other_non_western", "yes"), ("unknown", "unknown"), (None, "unknown")])
def test_migration_background(origin, expected):
    assert migration_background(origin) == expected


def test_origin_from_countries_cbs_rule():
    assert origin_from_countries("Nederland", "Nederland", "Nederland") == "dutch"
    assert origin_from_countries("Nederland", "Marokko", "Nederland") == "moroccan"
    assert origin_from_countries("Nederland", "Nederland", "Turkije") == "turkish"
    assert origin_from_countries("Suriname", "Nederland", "Nederland") == "surinamese"  # own country first
    assert origin_from_countries("Nederland", "Duitsland", "Marokko") == "other_western"  # parent 1 first
    assert origin_from_countries(None, None, None) == "unknown"
    assert origin_from_countries("Atlantis", "Nederland", "Nederland") is None


def test_age_at_t1():
    # born 2005-03-01, T1 on 2019-09-16: 5312 days / 365.25 = 14.5435 years
    got = age_at(pd.Series(["2005-03-01"]), pd.Series(["2019-09-16"]))
    assert got.iloc[0] == pytest.approx(5312 / 365.25)


def test_derive_person_columns():
    df = pd.DataFrame({"education_parent1": ["wo", "mbo"], "education_parent2": ["unknown", "unknown"],
                       "origin": ["dutch", "turkish"]})
    out = derive_person(df)
    assert out["ses"].tolist() == ["high", "low"]
    assert out["first_generation"].tolist() == ["no", "yes"]
    assert out["migration_background"].tolist() == ["no", "yes"]
