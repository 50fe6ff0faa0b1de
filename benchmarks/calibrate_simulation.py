"""Calibration figures of the simulated BeMind freeze (a check of ``alliance_report.simulation``).

Simulates freezes, reads them back through the real loader (``freeze.read_freeze`` →
``typed_tables``) and the real scoring (``scoring.score_questionnaires``), derives the
analysis-plan variables and fits the paper's models with statsmodels.  Prints the figures
of the demo seed next to the paper's, then the same figures over other seeds and how often
the paper's qualitative pattern emerges:

  (a) MANOVA on alliance complete cases: time P<.001, time×condition P>.05, condition P>.05
  (b) logistic dropout ~ wai_w2 + condition_embct: wai_w2 P>.05
  (c) OLS hads_t1 ~ baseline + wai_w2 + condition_embct: B<0, P<.05; mhcsf_t1 likewise B>0, P<.05
  (d) HADS moderation: wai_w2_c × condition_embct B>0 (and P<.05)
A dropout model that does not converge (no dropout in one condition: separation) is shown as
nan and does not count for (b).

Why the parameters in ``alliance_report.simulation.PARAMS`` are what they are (latent = SD units):
* alliance: W2/W5/W9 means 3.28/3.45/3.63 with random intercept SD .55, random W2→W9 change
  SD .42 and occasion noise .20 — the change is real for most but not all participants, so the
  profile-analysis time effect is strong (mean Wilks Λ ≈ .73 at n≈93, paper .732) while no
  condition term exists in the model (time×condition and condition are null effects).
* items: round(level + offset + loading·latent + N(0, σ)) gives α ≈ .89–.91 (WAI), ≈ .86 (HADS),
  ≈ .87 (MHC-SF); HADS level 1.36 per item → baseline total ≈ 19 (SD ≈ 6.5), ~10 % below 11.
* dropout: stopping treatment has probability .15 (MBCT) / .25 (eMBCT) and a log-odds slope of
  only −.25 per SD of the alliance intercept: the wai_w2 effect in the dropout model averages
  B ≈ −.37 (paper −.39) and is significant in only ~10 % of samples.
* outcome: T1 distress = −.85·dose + .60·baseline − (.56 MBCT | .06 eMBCT)·alliance_w2 + N(0, .60);
  well-being likewise with +.30·alliance_w2 in both conditions.  The strength was set so the
  pooled HADS and MHC-SF slopes reach P<.05 in ≥ 80 % of samples of ~118 (expected t ≈ −3.3 and
  3.3, paper −2.66 and 2.65: a little stronger than the paper for robustness) and the moderation
  is positive in all and significant in ~80 %.
* missing data: return logits (W2 .70, W5/W9 2.3, T1 2.4 …) plus a compliance trait are set so
  complete cases ≈ 93–95 and outcome samples ≈ 118 (paper 93, 118, 117).

Usage:  .venv/bin/python benchmarks/calibrate_simulation.py [--seeds 20] [--first-seed 1]
        [--n-randomized 245] [--timing]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.multivariate.manova import MANOVA

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alliance_report.freeze import read_freeze, typed_tables  # noqa: E402
from alliance_report.simulation import DEMO_SEED, simulate_freeze  # noqa: E402

try:
    from alliance_report.scoring import score_questionnaires
except ImportError:  # pragma: no cover - fallback while scoring.py is not there
    score_questionnaires = None

WAI_SUB = {"goal": (4, 6, 8, 11), "task": (1, 2, 10, 12), "bond": (3, 5, 7, 9)}


def _own_scores(q: pd.DataFrame) -> pd.DataFrame:
    """Minimal scoring (totals only) per freeze-format.md, used if scoring.py is unusable."""
    out = []
    for inst, n_items in (("WAI", 12), ("HADS", 14), ("MHCSF", 14)):
        rows = q[q["instrument"] == inst]
        wide = rows.pivot_table(index=["participant_id", "timepoint"], columns="item", values="value",
                                aggfunc="first", dropna=False).reindex(columns=range(1, n_items + 1)).astype(float)
        if inst == "HADS":
            anx = wide[list(range(1, 15, 2))]
            dep = wide[list(range(2, 15, 2))]
            a = anx.mean(axis=1).where(anx.isna().sum(axis=1) <= 1) * 7
            d = dep.mean(axis=1).where(dep.isna().sum(axis=1) <= 1) * 7
            total = a + d
        else:
            total = wide.mean(axis=1).where(wide.isna().sum(axis=1) <= 2)
        frame = total.rename("total").reset_index()
        frame["instrument"] = inst
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def derive(freeze_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Participant-level analysis table of a freeze and its raw tables."""
    tables = typed_tables(read_freeze(freeze_dir))
    q = tables["questionnaires"]
    scores = score_questionnaires(q) if score_questionnaires is not None else _own_scores(q)
    wide = scores.pivot_table(index="participant_id", columns=["instrument", "timepoint"], values="total", dropna=False)
    p = tables["participants"].set_index("participant_id")
    df = pd.DataFrame(index=p.index)
    df["treatment"] = p["treatment"]
    df["rerand"] = p["rerandomized_on"].notna()

    def col(inst, tp):
        key = (inst, tp)
        return wide[key].reindex(df.index) if key in wide.columns else pd.Series(np.nan, index=df.index)

    for tp in ("W2", "W5", "W9"):
        df[f"wai_{tp.lower()}"] = col("WAI", tp)
    for inst, name in (("HADS", "hads"), ("MHCSF", "mhcsf")):
        df[f"{name}_t0"] = col(inst, "T0")
        df[f"baseline_{name}"] = np.where(df["rerand"], col(inst, "T0b"), col(inst, "T0"))
        df[f"{name}_t1"] = col(inst, "T1")
    s = tables["sessions"]
    att = s[s["attended"] == "yes"].groupby("participant_id").size()
    nrows = s.groupby("participant_id").size()
    df["sessions_attended"] = att.reindex(df.index).fillna(0)
    disp = set(tables["disposition"]["participant_id"])
    df["treatment_ended"] = (nrows.reindex(df.index).fillna(0) == 8) | df.index.isin(disp)
    df["dropout"] = (df["sessions_attended"] < 4).astype(float).where(df["treatment_ended"])
    df["condition_embct"] = (df["treatment"] == "eMBCT").astype(float)
    return df, tables


def cronbach_alpha(items: pd.DataFrame) -> float:
    items = items.dropna()
    k = items.shape[1]
    return k / (k - 1) * (1 - items.var(ddof=1).sum() / items.sum(axis=1).var(ddof=1))


def analyse(freeze_dir: Path) -> dict:
    df, tables = derive(freeze_dir)
    treated = df[df["treatment"].isin(["MBCT", "eMBCT"])].copy()
    r: dict = {}
    p = tables["participants"]
    r["randomized"] = len(p)
    r["allocated"] = p["allocation"].value_counts().to_dict()
    r["rerandomized"] = p.loc[p["allocation"] == "TAU", "treatment"].value_counts().to_dict()
    r["treated"] = treated["treatment"].value_counts().to_dict()
    r["screened"] = len(tables["screening"])
    pt = p[p["treatment"].notna()]
    r["table1"] = {
        cond: {
            "female": (g["sex"] == "female").mean() * 100, "partner": (g["partner"] == "yes").mean() * 100,
            "children": (g["children"] == "yes").mean() * 100, "high_edu": (g["education"] == "high").mean() * 100,
            "age": (g["age"].mean(), g["age"].std()), "months_median": g["months_since_diagnosis"].median(),
        } for cond, g in pt.groupby("treatment")
    }
    r["baseline_hads"] = (treated["baseline_hads"].mean(), treated["baseline_hads"].std())
    r["t0_hads_below_11"] = (df["hads_t0"] < 11).mean() * 100
    r["baseline_mhcsf"] = (treated["baseline_mhcsf"].mean(), treated["baseline_mhcsf"].std())
    r["t1_hads"] = treated["hads_t1"].mean()
    r["t1_mhcsf"] = treated["mhcsf_t1"].mean()
    ended = treated[treated["treatment_ended"]]
    r["dropout_pct"] = (ended.groupby("treatment")["dropout"].mean() * 100).to_dict()
    r["n_wai_w2"] = int(treated["wai_w2"].notna().sum())

    # reliability (forms with every item answered)
    q = tables["questionnaires"]
    alphas = {}
    for tp in ("W2", "W5", "W9"):
        w = q[(q["instrument"] == "WAI") & (q["timepoint"] == tp)].pivot(index="participant_id", columns="item", values="value")
        alphas[f"WAI {tp}"] = cronbach_alpha(w.astype(float))
    for inst in ("HADS", "MHCSF"):
        w = q[(q["instrument"] == inst) & (q["timepoint"] == "T1")].pivot(index="participant_id", columns="item", values="value")
        alphas[f"{inst} T1"] = cronbach_alpha(w.astype(float))
    r["alpha"] = alphas

    # Aim 2: MANOVA on complete cases
    cc = treated.dropna(subset=["wai_w2", "wai_w5", "wai_w9"]).copy()
    r["n_complete"] = len(cc)
    r["wai_means"] = {c: tuple(g[["wai_w2", "wai_w5", "wai_w9"]].mean().round(2)) for c, g in cc.groupby("treatment")}
    cc["d1"] = cc["wai_w5"] - cc["wai_w2"]
    cc["d2"] = cc["wai_w9"] - cc["wai_w2"]
    mv = MANOVA.from_formula("d1 + d2 ~ C(treatment, Sum)", data=cc).mv_test()
    for key, term in (("time", "Intercept"), ("time_x_condition", "C(treatment, Sum)")):
        st = mv.results[term]["stat"].loc["Wilks' lambda"]
        r[key] = dict(wilks=float(st["Value"]), f=float(st["F Value"]), df1=float(st["Num DF"]),
                      df2=float(st["Den DF"]), p=float(st["Pr > F"]))
    cc["level"] = cc[["wai_w2", "wai_w5", "wai_w9"]].mean(axis=1)
    lv = smf.ols("level ~ C(treatment, Sum)", data=cc).fit()
    r["condition"] = dict(f=float(lv.fvalue), df1=1, df2=float(lv.df_resid), p=float(lv.f_pvalue))

    # Aim 1: dropout
    dm = treated[treated["treatment_ended"]].dropna(subset=["wai_w2"])
    r["dropout_model_n"] = (len(dm), int(dm["dropout"].sum()))
    nan = dict(b=np.nan, p=np.nan)
    r["dropout_wai"], r["dropout_embct"] = nan, nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lg = sm.Logit(dm["dropout"], sm.add_constant(dm[["wai_w2", "condition_embct"]])).fit(disp=0)
        if lg.mle_retvals.get("converged", True):   # else (quasi-)separation: not estimable, like the report
            r["dropout_wai"] = dict(b=float(lg.params["wai_w2"]), p=float(lg.pvalues["wai_w2"]))
            r["dropout_embct"] = dict(b=float(lg.params["condition_embct"]), p=float(lg.pvalues["condition_embct"]))
    except Exception:  # noqa: BLE001 - singular design etc.: not estimable
        pass

    # Aim 3: outcome models
    for name in ("hads", "mhcsf"):
        m = treated.dropna(subset=["wai_w2", f"baseline_{name}", f"{name}_t1"]).copy()
        fit = smf.ols(f"{name}_t1 ~ baseline_{name} + wai_w2 + condition_embct", data=m).fit()
        r[f"{name}_model"] = dict(n=len(m), b=float(fit.params["wai_w2"]), t=float(fit.tvalues["wai_w2"]),
                                  p=float(fit.pvalues["wai_w2"]), df=float(fit.df_resid),
                                  cond_b=float(fit.params["condition_embct"]), cond_p=float(fit.pvalues["condition_embct"]),
                                  n_per_cond=m["treatment"].value_counts().to_dict())
        m["wai_w2_c"] = m["wai_w2"] - m["wai_w2"].mean()
        mod = smf.ols(f"{name}_t1 ~ baseline_{name} + wai_w2_c * condition_embct", data=m).fit()
        term = "wai_w2_c:condition_embct"
        r[f"{name}_moderation"] = dict(b=float(mod.params[term]), t=float(mod.tvalues[term]),
                                       p=float(mod.pvalues[term]), df=float(mod.df_resid),
                                       slope_mbct=float(mod.params["wai_w2_c"]),
                                       slope_embct=float(mod.params["wai_w2_c"] + mod.params[term]))
    return r


def criteria(r: dict) -> dict:
    return {
        "a": r["time"]["p"] < 0.001 and r["time_x_condition"]["p"] > 0.05 and r["condition"]["p"] > 0.05,
        "b": r["dropout_wai"]["p"] > 0.05,
        "c": (r["hads_model"]["b"] < 0 and r["hads_model"]["p"] < 0.05
              and r["mhcsf_model"]["b"] > 0 and r["mhcsf_model"]["p"] < 0.05),
        "d_sign": r["hads_moderation"]["b"] > 0,
        "d_sig": r["hads_moderation"]["b"] > 0 and r["hads_moderation"]["p"] < 0.05,
    }


def fmt_p(p: float) -> str:
    return "<.001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def print_detail(r: dict, seed: int) -> None:
    print(f"== seed {seed}: demo freeze figures (paper in brackets)")
    print(f"screened {r['screened']}, randomized {r['randomized']}, allocated {r['allocated']}, "
          f"TAU re-randomized {r['rerandomized']}, treated {r['treated']}")
    for cond, t in r["table1"].items():
        print(f"  Table 1 {cond:5s}: female {t['female']:.1f}%  partner {t['partner']:.1f}%  children {t['children']:.1f}%  "
              f"high education {t['high_edu']:.1f}%  age {t['age'][0]:.1f} ({t['age'][1]:.1f})  "
              f"months since diagnosis median {t['months_median']:.1f}")
    print("          [MBCT 84.2/85.0/65.8/70.8 %, eMBCT 87.2/80.0/72.0/64.8 %]")
    print(f"  baseline HADS {r['baseline_hads'][0]:.1f} ({r['baseline_hads'][1]:.1f}); T0 HADS < 11: {r['t0_hads_below_11']:.1f}%; "
          f"baseline MHC-SF {r['baseline_mhcsf'][0]:.2f} ({r['baseline_mhcsf'][1]:.2f}); "
          f"T1 HADS {r['t1_hads']:.1f}, T1 MHC-SF {r['t1_mhcsf']:.2f}")
    print(f"  dropout % per condition (treatment ended): { {k: round(v, 1) for k, v in r['dropout_pct'].items()} }; "
          f"with wai_w2: {r['n_wai_w2']}")
    print("  Cronbach α: " + ", ".join(f"{k} {v:.2f}" for k, v in r["alpha"].items()))
    print(f"  WAI means W2/W5/W9 (complete cases): {r['wai_means']}   [≈3.3 → 3.7]")
    t, tc, c = r["time"], r["time_x_condition"], r["condition"]
    print(f"  (a) MANOVA n={r['n_complete']} [93]: time Λ={t['wilks']:.3f} F({t['df1']:.0f},{t['df2']:.0f})={t['f']:.2f} P={fmt_p(t['p'])} "
          f"[Λ=0.732 F(2,90)=16.46 P<.001]; time×condition Λ={tc['wilks']:.3f} F={tc['f']:.2f} P={fmt_p(tc['p'])}; "
          f"condition F(1,{c['df2']:.0f})={c['f']:.3f} P={fmt_p(c['p'])} [F(1,91)=0.114 P=.74]")
    dw = r["dropout_wai"]
    print(f"  (b) dropout model n={r['dropout_model_n'][0]} events={r['dropout_model_n'][1]}: wai_w2 B={dw['b']:.2f} "
          f"P={fmt_p(dw['p'])} [B=−.39 P=.21]; eMBCT B={r['dropout_embct']['b']:.2f} P={fmt_p(r['dropout_embct']['p'])}")
    h, m = r["hads_model"], r["mhcsf_model"]
    print(f"  (c) HADS  n={h['n']} {h['n_per_cond']} [118]: wai_w2 B={h['b']:.2f} t({h['df']:.0f})={h['t']:.2f} P={fmt_p(h['p'])} "
          f"[B=−.12 t(114)=−2.656 P=.01]; eMBCT B={h['cond_b']:.2f} P={fmt_p(h['cond_p'])}")
    print(f"      MHCSF n={m['n']} {m['n_per_cond']} [117]: wai_w2 B={m['b']:.2f} t({m['df']:.0f})={m['t']:.2f} P={fmt_p(m['p'])} "
          f"[B=.23 t(113)=2.651 P=.01]; eMBCT B={m['cond_b']:.2f} P={fmt_p(m['cond_p'])}")
    for name in ("hads", "mhcsf"):
        d = r[f"{name}_moderation"]
        print(f"  (d) {name.upper():5s} moderation: wai_w2_c×eMBCT B={d['b']:.2f} t({d['df']:.0f})={d['t']:.2f} P={fmt_p(d['p'])}; "
              f"simple slopes MBCT {d['slope_mbct']:.2f}, eMBCT {d['slope_embct']:.2f}"
              + ("   [B=.22 t(113)=2.261 P=.03]" if name == "hads" else ""))
    print("  criteria: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in criteria(r).items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20, help="number of other seeds (default 20)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--n-randomized", type=int, default=245)
    ap.add_argument("--timing", action="store_true", help="also time a 100× freeze (24,500 randomized)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        demo = analyse(simulate_freeze(Path(tmp) / "demo", seed=DEMO_SEED, n_randomized=args.n_randomized))
        print_detail(demo, DEMO_SEED)
        print()
        seeds = [s for s in range(args.first_seed, args.first_seed + args.seeds + 1) if s != DEMO_SEED][: args.seeds]
        print(f"== {len(seeds)} other seeds ({seeds[0]}..{seeds[-1]}), n_randomized={args.n_randomized}")
        print(" seed  n_cc  time_L  time_P  txc_P  cond_P | drop_n ev  wai_B  wai_P | hads_n  B      P     | mhc_n  B     P     | int_B  int_P | a b c d")
        rows = []
        for seed in seeds:
            r = analyse(simulate_freeze(Path(tmp) / f"s{seed}", seed=seed, n_randomized=args.n_randomized))
            k = criteria(r)
            rows.append(dict(seed=seed, **k, wilks=r["time"]["wilks"], n_cc=r["n_complete"],
                             n_hads=r["hads_model"]["n"], n_mhcsf=r["mhcsf_model"]["n"],
                             hads_b=r["hads_model"]["b"], mhcsf_b=r["mhcsf_model"]["b"], int_b=r["hads_moderation"]["b"]))
            print(f" {seed:4d}  {r['n_complete']:4d}  {r['time']['wilks']:.3f}  {fmt_p(r['time']['p']):>6s}  "
                  f"{fmt_p(r['time_x_condition']['p']):>5s}  {fmt_p(r['condition']['p']):>6s} | "
                  f"{r['dropout_model_n'][0]:4d} {r['dropout_model_n'][1]:3d}  {r['dropout_wai']['b']:5.2f}  {fmt_p(r['dropout_wai']['p']):>5s} | "
                  f"{r['hads_model']['n']:4d}  {r['hads_model']['b']:5.2f}  {fmt_p(r['hads_model']['p']):>5s} | "
                  f"{r['mhcsf_model']['n']:4d}  {r['mhcsf_model']['b']:4.2f}  {fmt_p(r['mhcsf_model']['p']):>5s} | "
                  f"{r['hads_moderation']['b']:5.2f}  {fmt_p(r['hads_moderation']['p']):>5s} | "
                  + " ".join("y" if k[c] else "-" for c in ("a", "b", "c", "d_sig")))
        t = pd.DataFrame(rows)
        print(f"share of seeds: (a) {t['a'].mean():.0%}  (b) {t['b'].mean():.0%}  (c) {t['c'].mean():.0%}  "
              f"(d) sign {t['d_sign'].mean():.0%}, significant {t['d_sig'].mean():.0%}")
        print(f"means over seeds: complete cases {t['n_cc'].mean():.1f}, HADS model n {t['n_hads'].mean():.1f}, "
              f"MHC-SF model n {t['n_mhcsf'].mean():.1f}, time Wilks Λ {t['wilks'].mean():.3f}, "
              f"HADS B {t['hads_b'].mean():.2f}, MHC-SF B {t['mhcsf_b'].mean():.2f}, interaction B {t['int_b'].mean():.2f}")

        if args.timing:
            t0 = time.perf_counter()
            big = simulate_freeze(Path(tmp) / "big", seed=DEMO_SEED, n_randomized=24500)
            dt = time.perf_counter() - t0
            n_rows = sum(1 for _ in open(big / "questionnaires.csv")) - 1
            print(f"\n24,500 randomized: simulate_freeze {dt:.1f} s, {n_rows:,} questionnaire rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
