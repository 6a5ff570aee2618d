"""The research edition's chapter "Voor wie werkt het?": the moderation grid with its BH
family, the conditional effects and figures, and the DiD by pupil characteristic.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from .. import CHANGES
from .. import figures as figs
from . import format as fmt
from . import text as txt
from .text import tr
from .common import I18N, Ctx, Table, _s, bullets, em, h, p, sub


def moderation_info(ctx: Ctx) -> tuple[pd.DataFrame | None, int]:
    m = ctx.table("moderation")
    if m is None or not {"outcome", "change", "moderator", "b", "p"} <= set(m.columns):
        return None, 0
    return m, len(m)


def moderation_family(ctx: Ctx) -> dict:
    """The Benjamini–Hochberg family of the moderation grid: one F test per estimated
    outcome × change × moderator cell (:func:`mut_eval.stats.moderation.moderation_grid`).
    ``{n_tests, n_outcomes, n_changes, n_moderators}``; {} without a moderation table."""
    m = ctx.table("moderation")
    if m is None or not {"outcome", "change", "moderator"} <= set(m.columns) or m.empty:
        return {}
    cells = m[["outcome", "change", "moderator"]].astype(str).drop_duplicates()
    return {"n_tests": len(cells), "n_outcomes": cells["outcome"].nunique(),
            "n_changes": cells["change"].nunique(), "n_moderators": cells["moderator"].nunique()}


def bh_words(ctx: Ctx, long: bool = False) -> str | None:
    """:func:`~mut_eval.report.text.bh_family` of this report's moderation grid."""
    fam = moderation_family(ctx)
    if not fam:
        return None
    dims = {k: fam[k] for k in ("n_outcomes", "n_changes", "n_moderators")} if long else {}
    return txt.bh_family(fam["n_tests"], ctx.lang, **dims)


def level_sizes(ctx: Ctx) -> dict:
    """``{(outcome, change, moderator): smallest level n}`` for categorical moderators, from
    ``conditional_effects.n_level``: a contrast with a level of fewer than ``min_cell`` pupils
    describes that small group and is suppressed."""
    ce = ctx.table("conditional_effects")
    if ce is None or not {"outcome", "change", "moderator", "n_level"} <= set(ce.columns):
        return {}
    n = ce["n_level"].map(fmt.as_count)
    g = ce.assign(_n=n).dropna(subset=["_n"]).groupby(["outcome", "change", "moderator"])["_n"].min()
    return {(str(o), str(c), str(w)): float(v) for (o, c, w), v in g.items()}


def _level_of(row) -> str | None:
    for c in ("level", "term"):
        v = _s(row.get(c))
        if v and v != str(row.get("moderator")):
            return v
    return None


def skipped_moderations(ctx: Ctx) -> tuple[list[dict], str]:
    """(prespecified tests that could not be estimated, a sentence on every skipped
    moderation analysis grouped by moderator) from ``moderation_skipped``."""
    from ..stats.moderation import _is_prespecified
    sk = ctx.table("moderation_skipped")
    if sk is None or sk.empty or not {"outcome", "change", "moderator", "reason"} <= set(sk.columns):
        return [], ""
    specs = (ctx.meta.get("options") or {}).get("prespecified_moderators") or []
    pre = [r for r in sk.to_dict("records")
           if str(r["change"]) != "did" and _is_prespecified(specs, str(r["outcome"]), str(r["change"]),
                                                               str(r["moderator"]))]
    items = []
    for w, g in sk.groupby(sk["moderator"].astype(str), sort=False):
        items.append((txt.moderator_label(w, ctx.lang), len(g),
                      txt.skip_reason(g["reason"].astype(str).mode().iloc[0], ctx.lang, ctx.mc)))
    return pre, txt.skipped_sentence(items, ctx.lang)


def _by_outcome(ctx: Ctx, pairs: list[tuple[str, str]], universe: list[tuple[str, str]]) -> list[str]:
    """Outcome–period pairs as readable labels: 'self-efficacy (T1–T2, T2–T3)', or just the outcome when
    it holds for every period of that outcome, or 'all outcomes' when it holds for everything."""
    if not pairs:
        return []
    if set(pairs) == set(universe):
        return [tr(ctx.lang, "alle uitkomsten", "all outcomes")]
    out = []
    for o in ctx.outcomes([o for o, _ in pairs]):
        mine = [c for o2, c in pairs if o2 == o]
        every = [c for o2, c in universe if o2 == o]
        lab = txt.lower_first(ctx.label(o))
        out.append(lab if set(mine) == set(every) else f"{lab} ({', '.join(txt.period(c) for c in sorted(mine))})")
    return out


def section_moderation(ctx: Ctx) -> dict:
    lang, blocks = ctx.lang, []
    m, n_tests = moderation_info(ctx)
    if m is None:
        blocks.append(ctx.missing("moderation"))
        return {"title": I18N[lang]["whom"], "blocks": blocks, "newpage": True}
    praw = pd.to_numeric(m["p"], errors="coerce")
    pbh = pd.to_numeric(m["p_bh"], errors="coerce") if "p_bh" in m.columns else pd.Series(np.nan, index=m.index)
    pre = m["prespecified"].fillna(False).astype(bool) if "prespecified" in m.columns else \
        pd.Series(False, index=m.index)
    sel = m[(praw < ctx.alpha) | (pbh < ctx.alpha) | pre].copy()
    sel = sel.assign(_p=praw[sel.index]).sort_values(["_p"], kind="stable")
    fam = moderation_family(ctx)
    n_bh = fam.get("n_tests", n_tests)
    bh_short, bh_long = bh_words(ctx), bh_words(ctx, long=True)
    changes = txt.join_list([txt.period(c) for c in CHANGES if c in set(m["change"].astype(str))], lang)
    # a categorical moderator with k levels gives k − 1 rows (one b each) but one F test
    rows_in = "" if n_bh == n_tests else tr(lang, f" in {n_bh} toetsen (één per uitkomst, verandering en moderator)",
                                             f" in {n_bh} tests (one per outcome, change and moderator)")
    blocks.append(p(tr(lang,
                       f"Binnen de groep mentees is onderzocht of de verandering tussen twee metingen ({changes}) "
                       f"samenhangt met kenmerken van de mentee of van de match met de mentor (moderatie). In totaal "
                       f"zijn {n_tests} verbanden getoetst{rows_in}. Bij zoveel toetsen is een deel van de significante "
                       f"uitkomsten toeval; daarom staat naast elke p ook de gecorrigeerde p (pBH): "
                       f"{bh_long or 'Benjamini–Hochberg-correctie'}. "
                       f"Hieronder staan de verbanden met p < {fmt.nolead(ctx.alpha, 2, lang)} en de vooraf "
                       f"gekozen verbanden.",
                       f"Within the mentee group we examined whether the change between two waves ({changes}) is "
                       f"associated with characteristics of the mentee or of the match with the mentor (moderation). "
                       f"In total {n_tests} associations were tested{rows_in}. With so many tests some significant "
                       f"results are due to chance; next to every p is therefore the adjusted p (pBH): "
                       f"{bh_long or 'Benjamini–Hochberg correction'}. Shown below "
                       f"are the associations with p < {fmt.nolead(ctx.alpha, 2, lang)} and the prespecified ones.")))
    # how many raw p < alpha chance alone gives in a grid this size, next to the count seen
    blocks.append(p(txt.chance_findings_sentence(n_tests, int((praw < ctx.alpha).sum()), ctx.alpha, lang)))
    pre_skipped, skipped_text = skipped_moderations(ctx)
    if sel.empty and not pre_skipped:
        blocks.append(p(tr(lang, "Geen enkel verband had p < 0,05 en er waren geen vooraf gekozen verbanden.",
                           "No association had p < .05 and no associations were prespecified.")))
    else:
        t = Table(tr(lang, "Moderatie van de verandering bij mentees", "Moderation of mentees' change"),
                  [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left"),
                   (tr(lang, "Moderator", "Moderator"), "left"), ([em("n")], "right"), ([em("b")], "right"),
                   (tr(lang, "95%-BI", "95% CI"), "right"), ([em("p")], "right"), ([em("p"), sub("BH")], "right"),
                   (tr(lang, "Vooraf", "Prespec."), "center")],
                  lang=lang, min_cell=ctx.mc, size="small", widths=["1fr", "auto", "1.4fr", "auto", "auto",
                                                                   "auto", "auto", "auto", "auto"])
        sents, quiet = [], []
        sizes = level_sizes(ctx)
        for r in sel.to_dict("records"):
            n_ = r.get("n")
            lvl = _level_of(r)
            key = (str(r["outcome"]), str(r["change"]), str(r["moderator"]))
            if lvl and key in sizes and (not fmt.is_number(n_) or sizes[key] < float(n_)):
                n_ = sizes[key]    # the smallest group behind this contrast decides
            wlab = txt.moderator_label(str(r["moderator"]), lang)
            ref = _s(r.get("reference"))
            wcell = wlab + (f": {txt.level_label(lvl, lang)}" if lvl else "") + \
                (f" ({tr(lang, 'ref.', 'ref.')} {txt.level_label(ref, lang)})" if lvl and ref else "")
            t.add([ctx.label(r["outcome"]), txt.contrast_label(str(r["change"]), lang), txt.upper_first(wcell),
                   t.cell(fmt.integer(r.get("n"), lang), r.get("n"), count=True), t.cell(fmt.num(r.get("b"), 2, lang), n_),
                   t.cell(fmt.ci(r.get("ci_low"), r.get("ci_high"), 2, lang), n_),
                   t.cell(fmt.p_value(r.get("p"), lang), n_), t.cell(fmt.p_value(r.get("p_bh"), lang), n_),
                   tr(lang, "ja", "yes") if bool(r.get("prespecified")) is True else ""])
            verdict = txt.moderation_verdict(r.get("ci_low"), r.get("ci_high"), r.get("p"), r.get("p_bh"), ctx.alpha)
            pre_r = bool(r.get("prespecified")) is True
            if fmt.is_small(n_, ctx.mc):
                continue
            if verdict == "shown" or pre_r:
                # Every surviving association and every prespecified one gets its own sentence.
                sents.append(txt.moderation_sentence(ctx.label(r["outcome"]), str(r["change"]), wlab, r.get("b"),
                                                     r.get("ci_low"), r.get("ci_high"), r.get("p"), r.get("p_bh"),
                                                     n_tests=n_bh, family=bh_short,
                                                     level=txt.level_label(lvl, lang) if lvl else None,
                                                     reference=txt.level_label(ref, lang) if lvl and ref else None,
                                                     alpha=ctx.alpha, lang=lang))
            elif verdict == "indication":
                quiet.append(r)
        for r in pre_skipped:
            # A confirmatory test is always listed, also when it could not be estimated.
            why = txt.skip_reason(r.get("reason"), lang, ctx.mc)
            t.add([ctx.label(r["outcome"]), txt.contrast_label(str(r["change"]), lang),
                   txt.upper_first(txt.moderator_label(str(r["moderator"]), lang)),
                   t.cell(fmt.integer(r.get("n"), lang), r.get("n"), count=True),
                   tr(lang, "niet te schatten", "not estimable"), "", "", "", tr(lang, "ja", "yes")])
            sents.append(tr(lang, f"Het vooraf gekozen verband tussen {txt.moderator_label(str(r['moderator']), lang)} "
                                  f"en de verandering in {txt.lower_first(ctx.label(r['outcome']))} "
                                  f"({txt.period(str(r['change']))}) is niet te schatten: {why}.",
                            f"The prespecified association between {txt.moderator_label(str(r['moderator']), lang)} "
                            f"and the change in {txt.lower_first(ctx.label(r['outcome']))} "
                            f"({txt.period(str(r['change']))}) is not estimable: {why}."))
        t.notes.append(tr(lang,
                          f"b: verandering per eenheid van de moderator (bij een categorie: verschil met de "
                          f"referentiegroep). pBH: {bh_long or 'Benjamini–Hochberg-correctie'}; de rijen van één "
                          f"moderator met categorieën delen de toets van die moderator.",
                          f"b: change per unit of the moderator (for a level: difference from the reference group). "
                          f"pBH: {bh_long or 'Benjamini–Hochberg correction'}; the rows of one categorical moderator "
                          f"share that moderator's test."))
        blocks.append(t.block())
        blocks.append(bullets(sents + [txt.exploratory_indications_sentence(len(quiet), n_bh, lang,
                                                                            family=bh_short)]))
    if skipped_text:
        blocks.append(p(skipped_text))
    blocks += did_by_moderator_blocks(ctx)
    for name, (o, c, w) in getattr(ctx.figures, "moderation", {}).items():
        what = tr(lang, f"Voorspelde verandering in {txt.lower_first(ctx.label(o))} ({txt.period(c)}) naar "
                        f"{txt.moderator_label(w, lang)}, met 95%-BI",
                  f"Predicted change in {txt.lower_first(ctx.label(o))} ({txt.period(c)}) by "
                  f"{txt.moderator_label(w, lang)}, with 95% CI")
        cap = what + (tr(lang, "; groen: waarden van de moderator waarbij de verandering significant van 0 "
                               "verschilt (Johnson–Neyman).",
                         "; green: moderator values where the change differs significantly from 0 "
                         "(Johnson–Neyman).") if figs.moderation_is_continuous(ctx.r, o, c, w) else ".")
        fig = ctx.figure(name, cap, "62%")
        if fig:
            blocks.append(fig)
    return {"title": I18N[lang]["whom"], "blocks": blocks, "newpage": True}


def did_by_moderator_blocks(ctx: Ctx) -> list:
    """Does the programme effect itself (the DiD, both conditions) differ by pupil characteristic?

    One interaction test per outcome × characteristic (``p_interaction``); the DiD per level
    or probe is shown for those with p < alpha. A level with fewer than ``min_cell`` pupils
    (``n_level``) or fewer than that among its mentees or its controls (``n_level_mentee``,
    ``n_level_control``) is suppressed.
    """
    d = ctx.table("did_by_moderator")
    need = {"outcome", "moderator", "probe", "contrast", "estimate", "ci_low", "ci_high", "p_interaction"}
    if d is None or not need <= set(d.columns):
        return []
    lang = ctx.lang
    tests = d.groupby(["outcome", "moderator"], sort=False)["p_interaction"].first().reset_index()
    tests["p_interaction"] = pd.to_numeric(tests["p_interaction"], errors="coerce")
    sig = tests[tests["p_interaction"] < ctx.alpha].sort_values("p_interaction", kind="stable")
    blocks = [h(tr(lang, "Verschilt het programma-effect tussen groepen leerlingen?",
                   "Does the programme effect differ between groups of pupils?")),
              p(txt.did_moderator_sentence(
                  len(tests), [f"{txt.moderator_label(str(w), lang)} {tr(lang, 'bij', 'for')} "
                               f"{txt.lower_first(ctx.label(o))}" for o, w in sig[["outcome", "moderator"]]
                               .itertuples(index=False)], lang, ctx.alpha))]
    if sig.empty:
        return blocks
    t = Table(tr(lang, "Verschil in verandering (mentees − controlegroep) per groep leerlingen",
                 "Difference in change (mentees − controls) per group of pupils"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Kenmerk", "Characteristic"), "left"),
               (tr(lang, "Groep", "Group"), "left"), (tr(lang, "Periode", "Period"), "left"),
               (tr(lang, "Verschil", "Difference"), "right"), (tr(lang, "95%-BI", "95% CI"), "right"),
               ([em("p")], "right"), ([em("p"), sub(tr(lang, "interactie", "interaction"))], "right")],
              lang=lang, min_cell=ctx.mc, size="small")
    for o, w, pint in sig[["outcome", "moderator", "p_interaction"]].itertuples(index=False):
        rows = d[(d["outcome"] == o) & (d["moderator"] == w)]
        first = True
        for r in rows.to_dict("records"):
            # the smallest group behind the estimate: the level's mentees or its controls
            n_ = min((float(r[c]) for c in ("n_level", "n_level_mentee", "n_level_control")
                      if fmt.is_number(r.get(c))), default=None)
            probe, w_ = _s(r.get("probe")), r.get("w")
            # A level code has no W value (a dichotomous W's levels are their own value);
            # a probe of a continuous W (M − 1SD, ...) is shown with its value.
            if not fmt.is_number(w_) or probe == f"{float(w_):g}":
                grp = txt.level_label(probe, lang)
            else:
                grp = f"{probe} ({fmt.num(w_, 2, lang)})"
            t.add([ctx.label(o) if first else "", txt.moderator_label(str(w), lang) if first else "", grp,
                   txt.contrast_label(str(r["contrast"]), lang), t.cell(fmt.num(r.get("estimate"), 2, lang), n_),
                   t.cell(fmt.ci(r.get("ci_low"), r.get("ci_high"), 2, lang), n_),
                   t.cell(fmt.p_value(r.get("p"), lang), n_), fmt.p_value(pint, lang) if first else ""])
            first = False
    t.notes.append(tr(lang, "Gemengd model op alle metingen met een interactie tussen conditie × meting en het "
                            "kenmerk; pinteractie toetst of het effect tussen de groepen verschilt.",
                      "Mixed model on all measurements with an interaction of condition × wave with the "
                      "characteristic; p interaction tests whether the effect differs between the groups."))
    blocks.append(t.block())
    return blocks
