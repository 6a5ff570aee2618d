"""The report section "Were the groups comparable?" (issue 13): balance before and after
weighting, the love plot and overlap figures, the effect under weighting, adjustment and
multiple imputation next to the main model, and how strong an unmeasured factor would
have to be to explain the largest effect away. Every sentence is written from the
tables ``balance``, ``weights_summary``, ``did_robustness`` and ``sensitivity``."""
from __future__ import annotations

import pandas as pd

from .. import figures as figs
from ..figures_comparability import BALANCE_LINE, balance_label, love_data
from . import format as fmt
from . import text as txt
from .common import Table, h, p
from .text import tr

METHOD_WORDS = {
    "entropy": ("entropy balancing: de controleleerlingen krijgen gewichten zo dat hun gemiddelden gelijk zijn "
                "aan die van de mentees", "entropy balancing: the controls are weighted so that their means equal "
                "the mentees'"),
    "logistic": ("gewichten uit de geschatte kans om mentee te zijn (propensity score)",
                 "weights from the estimated probability of being a mentee (propensity score)"),
}
ADJUSTED = ("weighted_dr", "covariate_adjusted", "multiple_imputation")


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce") if col in df.columns else pd.Series(float("nan"), index=df.index)


def balance_sentences(ctx, bal: pd.DataFrame, ws: pd.DataFrame, meta: dict) -> list[str]:
    """Before weighting: how many characteristics differ by more than .10 and the largest;
    after: whether all are within .10; the effective size of the weighted control group."""
    lang = ctx.lang
    shown = love_data(ctx.r)
    rows = shown if shown is not None and len(shown) else bal.iloc[0:0]
    smd, smdw = _num(rows, "smd").abs(), _num(rows, "smd_weighted").abs()
    names = [balance_label(str(c), "" if pd.isna(lv) else str(lv), lang, ctx.labels)
             for c, lv in zip(rows["covariate"], rows["level"])]
    out = []
    if len(rows):
        big = int((smd > BALANCE_LINE).sum())
        i = int(smd.values.argmax())
        out.append(tr(lang,
                      f"Bij de start verschilden de groepen op {big} van de {len(rows)} kenmerken meer dan "
                      f"{fmt.num(BALANCE_LINE, 2, lang)} standaarddeviatie (grootste verschil: "
                      f"{txt.lower_first(names[i])}, {fmt.num(smd.iloc[i], 2, lang)}).",
                      f"At the start the groups differed by more than {fmt.num(BALANCE_LINE, 2, lang)} standard "
                      f"deviations on {big} of {len(rows)} characteristics (largest: {txt.lower_first(names[i])}, "
                      f"{fmt.num(smd.iloc[i], 2, lang)})."))
    if meta.get("problem"):
        out.append(tr(lang, f"Wegen lukte niet: {meta['problem']}.", f"Weighting was not possible: {meta['problem']}."))
        return out
    method = str(meta.get("method", "none"))
    if method == "none" or smdw.isna().all():
        return out
    left = [n for n, v in zip(names, smdw) if v > BALANCE_LINE]
    words = METHOD_WORDS.get(method, (method, method))
    after = (tr(lang, "daarna zijn alle verschillen kleiner dan " + fmt.num(BALANCE_LINE, 2, lang),
                "afterwards every difference is below " + fmt.num(BALANCE_LINE, 2, lang)) if not left else
             tr(lang, f"daarna blijft een verschil groter dan {fmt.num(BALANCE_LINE, 2, lang)} bij "
                      f"{txt.join_list([txt.lower_first(x) for x in left], lang)}",
                f"afterwards a difference above {fmt.num(BALANCE_LINE, 2, lang)} remains for "
                f"{txt.join_list([txt.lower_first(x) for x in left], lang)}"))
    out.append(tr(lang, f"De controlegroep is gewogen ({words[0]}); {after}.",
                  f"The control group was weighted ({words[1]}); {after}."))
    c = ws[ws["condition"].astype(str) == "control"]
    if len(c):
        n, e = float(c["n"].iloc[0]), float(c["ess"].iloc[0])
        s = tr(lang, f"De gewogen controlegroep telt daardoor als {fmt.num(e, 0, lang)} van de "
                     f"{fmt.integer(n, lang)} leerlingen (effectieve steekproefgrootte)",
               f"The weighted control group therefore counts as {fmt.num(e, 0, lang)} of its "
               f"{fmt.integer(n, lang)} pupils (effective sample size)")
        if e < n / 2:
            s += tr(lang, ": minder dan de helft, dus de gewogen schattingen zijn duidelijk onzekerder.",
                    ": less than half, so the weighted estimates are clearly less precise.")
        else:
            s += "."
        out.append(s)
    return out


def effect_table(ctx, rob: pd.DataFrame, primary: str):
    """The DiD under the main model and the adjusted rows, per outcome × change from T1."""
    lang = ctx.lang
    models = [primary] + [m for m in ADJUSTED if m in set(rob["model"])]
    t = Table(tr(lang, "Verschil in verandering (95%-BI): hoofdmodel, na weging en correctie, en met imputatie",
                 "Difference in change (95% CI): main model, after weighting and adjustment, and with imputation"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left")]
              + [(tr(lang, *figs.ROBUSTNESS_LABELS.get(m, (m, m))), "right") for m in models],
              lang=lang, min_cell=ctx.mc, size="small")
    for o in ctx.outcomes(set(rob["outcome"].astype(str))):
        for con in figs.EFFECT_CHANGES:
            r = rob[(rob["outcome"].astype(str) == o) & (rob["contrast"].astype(str) == con)].set_index("model")
            if r.empty:
                continue
            cells = []
            for m in models:
                if m in r.index:
                    x = r.loc[m]
                    cells.append(f"{fmt.num(x['estimate'], 2, lang, plus=True)} "
                                 f"{fmt.ci(x['ci_low'], x['ci_high'], 2, lang)}")
                else:
                    cells.append("–")
            t.add([ctx.label(o), txt.period(con)] + cells)
    t.notes.append(tr(
        lang, "Gewogen + gecorrigeerd: regressie van de latere score op conditie, T1-score en de kenmerken, met de "
              "gewichten (dubbel robuust: klopt als het weegmodel of het regressiemodel klopt). Meervoudige imputatie: "
              "ontbrekende kenmerken en metingen aangevuld (predictive mean matching), veranderscore per klas, "
              "samengevoegd met de regels van Rubin; dit vangt ontbrekende gegevens op, niet de verschillen tussen "
              "de groepen.",
        "Weighted + adjusted: regression of the later score on condition, T1 score and the characteristics, with "
        "the weights (doubly robust: right when either the weighting or the regression model is right). Multiple "
        "imputation: missing characteristics and waves filled in (predictive mean matching), change score by class, "
        "pooled by Rubin's rules; it deals with missing data, not with the differences between the groups."))
    return t.block()


def agreement_sentence(ctx, rob: pd.DataFrame, primary: str) -> str | None:
    """How far the weighted doubly robust estimates lie from the main model's, and how
    many CIs exclude 0 under each."""
    lang = ctx.lang
    keys = ["outcome", "contrast"]
    a = rob[rob["model"] == primary].set_index(keys)
    b = rob[rob["model"] == "weighted_dr"].set_index(keys)
    both = a.index.intersection(b.index)
    if not len(both):
        return None
    a, b = a.loc[both], b.loc[both]
    diff = (_num(b, "estimate") - _num(a, "estimate")).abs()

    def sig(t):
        return int(((_num(t, "ci_low") > 0) | (_num(t, "ci_high") < 0)).sum())
    return tr(lang,
              f"Na weging en correctie verschuiven de schattingen gemiddeld {fmt.num(diff.mean(), 2, lang)} punt "
              f"(hooguit {fmt.num(diff.max(), 2, lang)}). Van de {len(both)} vergelijkingen sluit het 95%-BI de "
              f"nul uit bij {sig(a)} in het hoofdmodel en bij {sig(b)} na weging.",
              f"After weighting and adjustment the estimates move by {fmt.num(diff.mean(), 2, lang)} points on "
              f"average (at most {fmt.num(diff.max(), 2, lang)}). Of the {len(both)} comparisons, the 95% CI "
              f"excludes zero for {sig(a)} under the main model and for {sig(b)} after weighting.")


def sensitivity_sentence(ctx, sens: pd.DataFrame) -> str | None:
    """For the largest main-model effect since T1: how many times as strong as the
    benchmark an unknown factor would have to be, and the E-value."""
    lang = ctx.lang
    s = sens[sens["contrast"].astype(str).str.endswith("-T1")].copy()
    s["absg"] = _num(s, "g").abs()
    s = s.dropna(subset=["absg"])
    if s.empty:
        return None
    r = s.loc[s["absg"].idxmax()]
    what = tr(lang, f"het grootste effect ({txt.lower_first(ctx.label(r['outcome']))}, {txt.period(str(r['contrast']))}, "
                    f"g = {fmt.num(r['g'], 2, lang)})",
              f"the largest effect ({txt.lower_first(ctx.label(r['outcome']))}, {txt.period(str(r['contrast']))}, "
              f"g = {fmt.num(r['g'], 2, lang)})")
    ev = tr(lang, f"De E-waarde is {fmt.num(r['evalue'], 1, lang)}: een onbekende factor die de kans op deelname "
                  f"én de uitkomst elk minder dan {fmt.num(r['evalue'], 1, lang)} keer zo groot maakt, kan dit "
                  f"effect niet verklaren.",
            f"The E-value is {fmt.num(r['evalue'], 1, lang)}: an unknown factor that makes both taking part and "
            f"the outcome less than {fmt.num(r['evalue'], 1, lang)} times as likely cannot explain this effect.")
    k = pd.to_numeric(pd.Series([r.get("k_explain_away")]), errors="coerce").iloc[0]
    bench = r.get("benchmark")
    if isinstance(bench, str) and bench and pd.notna(k):
        name = txt.lower_first(txt.moderator_label(bench, lang))
        strength = (tr(lang, f"{fmt.num(k, 1, lang)} keer zo sterk", f"{fmt.num(k, 1, lang)} times as strongly")
                    if k != float("inf") else tr(lang, "onmogelijk veel sterker", "impossibly more strongly"))
        first = tr(lang, f"Een onbekende factor zou {strength} als {name} met deelname en met de verandering moeten "
                         f"samenhangen om {what} te verklaren.",
                   f"An unknown factor would have to be related to taking part and to the change {strength} as "
                   f"{name} to explain {what} away.")
        return f"{first} {ev}"
    return tr(lang, f"Voor {what}: ", f"For {what}: ") + txt.lower_first(ev)


def section_comparability(ctx) -> dict:
    """The section; empty of numbers when comparisons are withheld (small groups)."""
    lang, blocks = ctx.lang, []
    title = tr(lang, "Zijn de groepen vergelijkbaar?", "Were the groups comparable?")
    if ctx.withheld():
        return {"title": title, "blocks": [p(ctx.withheld())], "newpage": True}
    bal, ws = ctx.table("balance"), ctx.table("weights_summary")
    meta = ctx.meta.get("weighting") or {}
    blocks.append(p(tr(lang,
                       "De controleklassen zijn door de scholen gekozen, niet door loting. Hieronder staat hoe de "
                       "groepen bij de start verschilden, hoe de controlegroep is gewogen om op de mentees te lijken, "
                       "en of het effect daarna overeind blijft.",
                       "The schools chose the control classes; they were not drawn by lot. Below: how the groups "
                       "differed at the start, how the control group was weighted to resemble the mentees, and "
                       "whether the effect holds up.")))
    if bal is None or ws is None:
        blocks.append(ctx.missing("balance", "weights_summary"))
        return {"title": title, "blocks": blocks, "newpage": True}
    blocks.append(p(" ".join(balance_sentences(ctx, bal, ws, meta))))
    fig = ctx.figure("love_plot", tr(
        lang, f"Verschil tussen mentees en controlegroep per kenmerk vóór en na weging (gestandaardiseerd; bij ja/nee-"
              f"kenmerken het verschil in proportie). Stippellijn: {fmt.num(BALANCE_LINE, 2, lang)} (in balans); "
              f"streepjeslijn: 0,25 (grens van de WWC). Kenmerken met minder dan {ctx.mc} leerlingen in een groep "
              f"staan er niet in.",
        f"Difference between mentees and controls per characteristic before and after weighting (standardised; for "
        f"yes/no characteristics the difference in proportion). Dotted: {fmt.num(BALANCE_LINE, 2, lang)} "
        f"(balanced); dashed: 0.25 (the WWC's limit). Characteristics held by fewer than {ctx.mc} pupils in a group "
        f"are not shown."), "90%")
    if fig:
        blocks.append(fig)
    fig = ctx.figure("overlap", tr(
        lang, "Overlap: de geschatte kans om mentee te zijn, per groep. Waar alleen mentees zitten, is er geen "
              "vergelijkbare controleleerling.",
        "Overlap: the estimated probability of being a mentee, per group. Where only mentees are, there is no "
        "comparable control pupil."), "85%")
    if fig:
        blocks.append(fig)
    rob, did = ctx.table("did_robustness"), ctx.table("did")
    if rob is not None and did is not None and set(ADJUSTED) & set(rob["model"]):
        primary = str(did["model"].iloc[0]) if "model" in did.columns else "lmm_pupil"
        blocks.append(h(tr(lang, "Het effect na weging en imputatie", "The effect after weighting and imputation")))
        agree = agreement_sentence(ctx, rob, primary)
        if agree:
            blocks.append(p(agree))
        blocks.append(effect_table(ctx, rob, primary))
    sens = ctx.table("sensitivity")
    if sens is not None:
        s = sensitivity_sentence(ctx, sens)
        if s:
            blocks.append(h(tr(lang, "Gevoeligheid voor onbekende factoren", "Sensitivity to unknown factors")))
            blocks.append(p(s))
    return {"title": title, "blocks": blocks, "newpage": True}
