"""The whole analysis on simulated freezes, checked against independent computations.

Freezes: the demo (all treatment ended), another seed, an interim freeze (participants
still in treatment), and from the demo an unbalanced subset and one with heavy
missingness.  References share no code with the package:

* scores: each form scored by a plain Python loop over the raw CSV text;
* OLS: normal equations in NumPy; logistic: Newton–Raphson in NumPy;
* MANOVA: statsmodels' MANOVA with sum coding; mixed model: statsmodels' formula API;
* CONSORT: counted with pandas directly from the CSV files.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.multivariate.manova import MANOVA
from test_dropout_reliability_baseline import newton_raphson_logit
from test_outcome_models import numpy_ols

from alliance_report import DEMO_FREEZE
from alliance_report.analysis.alliance import alliance_manova, alliance_mixed
from alliance_report.analysis.dataset import build_dataset
from alliance_report.analysis.dropout import fit_dropout_model
from alliance_report.analysis.outcome import fit_outcome_model
from alliance_report.freeze import read_freeze, typed_tables
from alliance_report.results import compute_results
from alliance_report.results_schema import results_json
from alliance_report.scoring import score_questionnaires
from alliance_report.settings import Settings
from alliance_report.simulation import simulate_freeze

RTOL = 1e-6
SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "analysis-plan.md"


@pytest.fixture(scope="module")
def freezes(tmp_path_factory):
    root = tmp_path_factory.mktemp("freezes")
    return {
        "demo": DEMO_FREEZE,
        "seed_5": simulate_freeze(root / "seed5", seed=5, n_randomized=200),
        "interim": simulate_freeze(root / "interim", seed=9, n_randomized=245, cutoff_date="2015-09-01"),
    }


def analysis_table(path):
    tables = typed_tables(read_freeze(path))
    return build_dataset(tables, score_questionnaires(tables["questionnaires"]), 4)


@pytest.fixture(scope="module")
def datasets(freezes):
    data = {name: analysis_table(path) for name, path in freezes.items()}
    demo = data["demo"]
    rng = np.random.default_rng(3)
    # unbalanced: keep a third of the MBCT participants
    mbct = demo.index[demo["condition"] == "MBCT"]
    dropped = rng.choice(mbct, size=2 * len(mbct) // 3, replace=False)
    data["unbalanced"] = demo.drop(index=dropped)
    # heavy missingness: 35% of each alliance and outcome score deleted at random
    missing = demo.copy()
    for column in ("wai_w2", "wai_w5", "wai_w9", "hads_t1", "mhcsf_t1", "baseline_hads"):
        missing.loc[rng.random(len(missing)) < 0.35, column] = np.nan
    data["missing"] = missing
    return data


# ------------------------------------------------------------------ scoring from the raw text

def reference_scores(path: Path) -> dict:
    """WAI, HADS and MHC-SF totals of every form, by a loop over the raw CSV rows."""
    forms: dict[tuple, dict[int, int | None]] = {}
    with open(path / "questionnaires.csv", newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            key = (row["participant_id"], row["timepoint"], row["instrument"])
            forms.setdefault(key, {})[int(row["item"])] = int(row["value"]) if row["value"] else None
    scores = {}
    for key, items in forms.items():
        instrument = key[2]
        if instrument == "HADS":
            total = 0.0
            for first in (1, 2):  # anxiety = odd items, depression = even items
                answered = [items.get(i) for i in range(first, 15, 2) if items.get(i) is not None]
                if len(answered) < 6:
                    total = None
                    break
                total += sum(answered) / len(answered) * 7
        else:
            n_items = 12 if instrument == "WAI" else 14
            answered = [items.get(i) for i in range(1, n_items + 1) if items.get(i) is not None]
            total = sum(answered) / len(answered) if len(answered) >= n_items - 2 else None
        scores[key] = total
    return scores


@pytest.mark.parametrize("name", ["demo", "interim"])
def test_scores_match_a_plain_loop_over_the_csv(freezes, name):
    path = freezes[name]
    expected = reference_scores(path)
    scored = score_questionnaires(typed_tables(read_freeze(path))["questionnaires"])
    got = {(r.participant_id, r.timepoint, r.instrument): r.total for r in scored.itertuples()}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert np.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(value, rel=1e-12), key


# ------------------------------------------------------------------ models

DESIGNS = ["demo", "seed_5", "interim", "unbalanced", "missing"]


@pytest.mark.parametrize("design", DESIGNS)
def test_outcome_models_match_normal_equations(datasets, design):
    data = datasets[design]
    for scale in ("hads", "mhcsf"):
        sample = data[data["treated"]].dropna(subset=["wai_w2", f"baseline_{scale}", f"{scale}_t1"])
        X = np.column_stack([np.ones(len(sample)), sample[f"baseline_{scale}"], sample["wai_w2"],
                             sample["condition_embct"]])
        b, se, t, p, r2, *_ = numpy_ols(X, sample[f"{scale}_t1"].to_numpy())
        model = fit_outcome_model(data, scale)
        assert model["n"] == len(sample)
        got = model["terms"]["wai_w2"]
        assert (got["b"], got["se"], got["p"]) == pytest.approx((b[2], se[2], p[2]), rel=RTOL)
        assert model["r2"] == pytest.approx(r2, rel=RTOL)


@pytest.mark.parametrize("design", DESIGNS)
def test_dropout_model_matches_newton_raphson(datasets, design):
    data = datasets[design]
    sample = data[data["treated"] & data["treatment_ended"]].dropna(subset=["wai_w2"])
    X = np.column_stack([np.ones(len(sample)), sample["wai_w2"], sample["condition_embct"]])
    beta, se = newton_raphson_logit(X, sample["dropout"].to_numpy())
    model = fit_dropout_model(data)
    assert model["n"] == len(sample)
    from test_dropout_reliability_baseline import assert_logistic_term   # z, P, CI, OR and its CI
    for i, term in enumerate(["intercept", "wai_w2", "condition_embct"]):
        assert_logistic_term(model["terms"][term], beta[i], se[i])


@pytest.mark.parametrize("design", DESIGNS)
def test_manova_matches_statsmodels(datasets, design):
    data = datasets[design]
    cases = data[data["treated"]].dropna(subset=["wai_w2", "wai_w5", "wai_w9"]).copy()
    cases["d1"] = cases["wai_w5"] - cases["wai_w2"]
    cases["d2"] = cases["wai_w9"] - cases["wai_w5"]
    table = MANOVA.from_formula("d1 + d2 ~ C(condition, Sum)", cases).mv_test()
    manova = alliance_manova(data)
    assert manova["n"] == len(cases)
    for key, row in (("time", "Intercept"), ("time_x_condition", "C(condition, Sum)")):
        stat = table.results[row]["stat"].loc["Wilks' lambda"]
        assert manova[key]["wilks"] == pytest.approx(stat["Value"], rel=RTOL)
        assert manova[key]["f"] == pytest.approx(stat["F Value"], rel=RTOL)
        assert manova[key]["p"] == pytest.approx(stat["Pr > F"], rel=RTOL)


@pytest.mark.parametrize("design", ["demo", "interim"])
def test_mixed_model_matches_formula_interface(datasets, design):
    data = datasets[design]
    treated = data[data["treated"]]
    long = treated[["wai_w2", "wai_w5", "wai_w9", "condition_embct"]].reset_index().melt(
        id_vars=["participant_id", "condition_embct"], var_name="wk", value_name="wai").dropna()
    long["week"] = long["wk"].map({"wai_w2": 2.0, "wai_w5": 5.0, "wai_w9": 9.0})
    # fitted to a gradient of 1e-8 (statsmodels' default 1e-5 leaves the SE off by ~1e-5 relative)
    fit = smf.mixedlm("wai ~ week * condition_embct", long, groups=long["participant_id"]).fit(
        reml=True, method="bfgs", gtol=1e-8)
    mixed = alliance_mixed(data)
    assert mixed["n_observations"] == len(long)
    assert mixed["terms"]["week"]["b"] == pytest.approx(fit.params["week"], rel=RTOL)
    assert mixed["terms"]["week_x_condition_embct"]["b"] == pytest.approx(
        fit.params["week:condition_embct"], rel=RTOL)
    # SE: the model-based σ̂²(X'V̂⁻¹X)⁻¹ (not the formula fit's bse_fe, from the inverse of the
    # full Hessian), with a dense N × N V at the formula fit's variance components
    from test_alliance import dense_mixed_reference
    _, cov = dense_mixed_reference(long, float(fit.cov_re.iloc[0, 0]), float(fit.scale))
    for i, term in enumerate(["intercept", "week", "condition_embct", "week_x_condition_embct"]):
        assert mixed["terms"][term]["se"] == pytest.approx(np.sqrt(cov[i, i]), rel=RTOL), term


# ------------------------------------------------------------------ results.json as a whole

@pytest.fixture(scope="module")
def demo_results():
    return compute_results(read_freeze(DEMO_FREEZE), Settings())


def spec_keys() -> dict[str, list[str]]:
    """Top-level keys of the results.json block of analysis-plan.md, when the spec is present."""
    if not SPEC.exists():
        pytest.skip("shared/spec is not beside the repository")
    block = SPEC.read_text(encoding="utf-8").split("## results.json", 1)[1].split("```")[1]
    names = []
    for line in block.splitlines():
        if not line or line[0].isspace():
            continue  # nested keys are checked one by one below
        head = line.split(":", 1)[0] if ":" in line else line
        for part in head.split(","):
            part = part.split("(")[0].strip()
            if part.replace("_", "").isalnum():
                names.append(part)
    assert len(names) >= 12, names
    return names


def test_results_json_has_every_key_of_the_spec(demo_results):
    for key in spec_keys():
        assert key in demo_results, key
    consort = demo_results["consort"]
    for key in ("assessed", "excluded", "excluded_reasons", "randomized", "allocated", "rerandomized",
                "tau_not_rerandomized", "treated", "dropout", "discontinued_reasons",
                "lost_to_follow_up_t1", "analysed"):
        assert key in consort, key
    assert set(consort["analysed"]) == {"dropout_model", "alliance_manova", "hads_model", "mhcsf_model"}
    assert set(demo_results["reliability"]) == {"WAI", "HADS", "MHCSF"}
    assert set(demo_results["alliance_manova"]) >= {"n", "time", "time_x_condition", "condition"}
    assert set(demo_results["alliance_mixed"]["terms"]) == {
        "intercept", "week", "condition_embct", "week_x_condition_embct"}
    for name in ("hads", "mhcsf", "hads_moderation", "mhcsf_moderation"):
        model = demo_results["outcome_models"][name]
        assert {"n", "df_resid", "r2", "adj_r2", "terms"} <= set(model)
    assert set(demo_results["outcome_models"]["hads_moderation"]["simple_slopes"]) == {"MBCT", "eMBCT"}
    # every estimate of the demo is a number (nothing is degenerate in the demo)
    assert "NaN" not in results_json(demo_results)


def test_demo_reproduces_the_pattern_of_the_paper(demo_results):
    manova = demo_results["alliance_manova"]
    assert manova["time"]["p"] < 0.001
    assert manova["time_x_condition"]["p"] > 0.05 and manova["condition"]["p"] > 0.05
    assert demo_results["dropout_model"]["terms"]["wai_w2"]["p"] > 0.05
    hads, mhcsf = demo_results["outcome_models"]["hads"], demo_results["outcome_models"]["mhcsf"]
    assert hads["terms"]["wai_w2"]["b"] < 0 and hads["terms"]["wai_w2"]["p"] < 0.05
    assert mhcsf["terms"]["wai_w2"]["b"] > 0 and mhcsf["terms"]["wai_w2"]["p"] < 0.05
    interaction = demo_results["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]
    assert interaction["b"] > 0 and interaction["p"] < 0.05
    descriptives = demo_results["alliance_descriptives"]["complete_cases"]
    for condition in ("MBCT", "eMBCT"):
        assert descriptives[condition]["W9"]["mean"] > descriptives[condition]["W2"]["mean"]


def test_consort_counts_match_pandas_on_the_csv_files(freezes):
    for path in freezes.values():
        consort = compute_results(read_freeze(path), Settings())["consort"]
        screening = pd.read_csv(path / "screening.csv", dtype=str, keep_default_na=False)
        participants = pd.read_csv(path / "participants.csv", dtype=str, keep_default_na=False)
        disposition = pd.read_csv(path / "disposition.csv", dtype=str, keep_default_na=False)
        assert consort["assessed"] == len(screening)
        assert consort["excluded"] == int((screening["participant_id"] == "").sum())
        assert consort["allocated"] == participants["allocation"].value_counts().reindex(
            ["MBCT", "eMBCT", "TAU"], fill_value=0).to_dict()
        rerandomized = participants[(participants["allocation"] == "TAU") & (participants["treatment"] != "")]
        assert consort["rerandomized"] == rerandomized["treatment"].value_counts().reindex(
            ["MBCT", "eMBCT"], fill_value=0).to_dict()
        treated = participants[participants["treatment"] != ""]
        discontinued = disposition[(disposition["event"] == "discontinued_treatment")
                                   & disposition["participant_id"].isin(treated["participant_id"])]
        assert consort["discontinued_reasons"] == discontinued["reason"].value_counts().to_dict()
        assert json.loads(json.dumps(consort)) == consort


def test_interim_freeze_has_participants_in_treatment(freezes):
    """In treatment (and, of them, those who had attended no session yet), recounted with pandas
    from the CSV files: treated, fewer than 8 session rows and no disposition row."""
    path = freezes["interim"]
    results = compute_results(read_freeze(path), Settings())
    consort = results["consort"]
    participants = pd.read_csv(path / "participants.csv", dtype=str, keep_default_na=False)
    sessions = pd.read_csv(path / "sessions.csv", dtype=str)
    session_rows = sessions["participant_id"].value_counts()
    attended = sessions.loc[sessions["attended"] == "yes", "participant_id"].value_counts()
    with_event = set(pd.read_csv(path / "disposition.csv", dtype=str)["participant_id"])
    treated = participants[participants["treatment"] != ""].set_index("participant_id")
    rows = session_rows.reindex(treated.index, fill_value=0)
    in_treatment = treated[(rows < 8) & ~treated.index.isin(with_event)]
    attended = attended.reindex(in_treatment.index, fill_value=0)
    none_attended, some_attended = in_treatment[attended == 0], in_treatment[attended > 0]
    for key, frame in (("in_treatment", in_treatment), ("in_treatment_none_attended", none_attended),
                       ("in_treatment_attended", some_attended)):
        assert consort[key] == frame["treatment"].value_counts().reindex(["MBCT", "eMBCT"], fill_value=0).to_dict()
    assert results["interim"]["in_treatment_none_attended"] == len(none_attended) > 0
    assert len(some_attended) > 0
    ended = sum(consort["treated"].values()) - sum(consort["in_treatment"].values())
    assert results["dropout_model"]["n"] <= ended


def test_consort_arithmetic_mismatch_stops_the_build(demo_results):
    from alliance_report.analysis.consort import ConsortError, check_consort

    consort = json.loads(json.dumps(demo_results["consort"]))
    sizes = {"dropout_model": demo_results["dropout_model"]["n"]}
    check_consort(consort, sizes)  # the demo adds up
    consort["excluded"] += 1
    with pytest.raises(ConsortError, match="assessed"):
        check_consort(consort, sizes)
    consort["excluded"] -= 1
    with pytest.raises(ConsortError, match="dropout_model"):
        check_consort(consort, {"dropout_model": sizes["dropout_model"] + 1})
