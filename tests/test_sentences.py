"""Every branch of every sentence that states a finding is chosen by the numbers it reports.

The results of the demo freeze are edited (P values, estimates, nulls) to reach each branch;
``findings`` is recomputed from the edited results as ``compute_results`` does, and the test
states the expected words from the edited P value itself (P < .05), not from ``findings``.
"""

from __future__ import annotations

import re

import copy

import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.analysis.findings import findings, stronger_slope
from alliance_report.freeze import read_freeze
from alliance_report.render import format as fmt
from alliance_report.render import text
from alliance_report.results import compute_results
from alliance_report.settings import Settings

SIG, NONSIG = 0.003, 0.41


@pytest.fixture(scope="module")
def demo():
    return compute_results(read_freeze(DEMO_FREEZE), Settings())


def edited(results: dict, edit) -> dict:
    """A copy of ``results`` changed by ``edit(copy)``, with its findings recomputed."""
    changed = copy.deepcopy(results)
    edit(changed)
    changed["findings"] = findings(changed)
    return changed


def set_term(term: dict, p=None, b=None) -> None:
    if p is not None:
        term["p"] = p
    if b is not None:
        term["b"] = b


def null_terms(block: dict) -> None:
    for term in block.values():
        for key in term:
            term[key] = None


# ------------------------------------------------------------------ P at the threshold

@pytest.mark.parametrize("p, jmir, apa", [
    (0.0496, "P=.0496", "p = .0496"),
    (0.04996, "P<.05", "p < .05"),
    (0.0500, "P=.05", "p = .050"),
    (0.0504, "P=.05", "p = .050"),
    (0.00994, "P=.0099", "p = .0099"),
    (0.009996, "P<.01", "p < .01"),
    (0.0104, "P=.01", "p = .010"),
    (0.00104, "P=.001", "p = .001"),
])
def test_p_never_lands_on_the_other_side_of_a_threshold(p, jmir, apa):
    for style, expected in (("jmir", jmir), ("apa", apa)):
        printed = fmt.p_statement(p, style)
        assert printed == expected
        shown = printed.split("=")[-1].split("<")[-1].strip()
        for threshold in (0.05, 0.01, 0.001):
            if "<" in printed:
                assert p < float(shown) and float(shown) in (0.05, 0.01, 0.001)
            else:
                assert (p < threshold) == (float(shown) < threshold), (p, printed, threshold)


def test_a_p_of_0496_is_printed_next_to_was_associated(demo):
    results = edited(demo, lambda r: set_term(r["outcome_models"]["mhcsf"]["terms"]["wai_w2"], p=0.0496))
    sentence = text.outcome(results, "mhcsf", "MHC-SF")
    assert "was associated" in sentence and "P=.0496" in sentence


# ------------------------------------------------------------------ Aim 1

@pytest.mark.parametrize("p, b, words", [
    (SIG, -0.8, "Higher early alliance was associated with lower odds of dropout"),
    (SIG, 0.8, "Higher early alliance was associated with higher odds of dropout"),
    (NONSIG, -0.8, "There was no evidence that early alliance was associated with dropout"),
])
def test_dropout_sentence(demo, p, b, words):
    results = edited(demo, lambda r: set_term(r["dropout_model"]["terms"]["wai_w2"], p=p, b=b))
    sentence = text.dropout_model(results)
    term = results["dropout_model"]["terms"]["wai_w2"]
    assert sentence.startswith(words)
    assert fmt.ci(term["or_ci_low"], term["or_ci_high"]) in sentence
    assert fmt.p_statement(p) in sentence
    conclusion = text.conclusion(results)
    assert ("no evidence of an association between early alliance and dropout" in conclusion) == (p >= 0.05)
    assert (f"higher early alliance went with {'lower' if b < 0 else 'higher'} odds of dropout" in conclusion) == (p < 0.05)


def test_dropout_not_estimable(demo):
    def edit(r):
        null_terms(r["dropout_model"]["terms"])
        r["dropout_model"]["not_estimable_reason"] = "too few dropouts or completers"
        r["dropout_model"]["n"], r["dropout_model"]["events"] = 9, 1
    results = edited(demo, edit)
    assert text.dropout_model(results) == ("The dropout model could not be estimated (too few dropouts or completers; "
                                           "n=9, 1 dropout).")
    assert "association of early alliance with dropout could not be estimated" in text.conclusion(results)
    assert "odds" not in text.conclusion(results)


# ------------------------------------------------------------------ Aim 2: MANOVA

@pytest.mark.parametrize("time_p", [SIG, NONSIG])
@pytest.mark.parametrize("interaction_p", [SIG, NONSIG, None])
@pytest.mark.parametrize("condition_p", [SIG, NONSIG, None])
def test_manova_sentence(demo, time_p, interaction_p, condition_p):
    def edit(r):
        manova = r["alliance_manova"]
        manova["time"]["p"] = time_p
        for key, p in (("time_x_condition", interaction_p), ("condition", condition_p)):
            if p is None:
                null_terms({key: manova[key]})
                manova["not_estimable_reason"] = "no complete cases in eMBCT: time × condition and condition not estimable"
            else:
                manova[key]["p"] = p
    results = edited(demo, edit)
    sentence = text.alliance_development(results)
    assert ("cases, the working alliance changed over time" in sentence) == (time_p < 0.05)
    assert ("no evidence that the working alliance changed over time" in sentence) == (time_p >= 0.05)
    assert ("Its development differed between the conditions" in sentence) == (interaction_p == SIG)
    assert ("no evidence that its development differed" in sentence) == (interaction_p == NONSIG)
    assert ("mean alliance level differed" in sentence) == (condition_p == SIG)
    assert ("no evidence of a difference in the mean alliance level" in sentence) == (condition_p == NONSIG)
    if None in (interaction_p, condition_p):
        assert "Not estimable: no complete cases in eMBCT" in sentence
    conclusion = text.conclusion(results)
    assert ("and it developed differently in the two conditions" in conclusion) == (interaction_p == SIG)
    assert ("no evidence that it developed differently in the two conditions" in conclusion) == (interaction_p == NONSIG)
    # the mean level by condition (the MANOVA's condition effect) is part of the conclusion when it differed
    assert ("the mean alliance was higher in" in conclusion) == (condition_p == SIG)
    assert ("similarly" not in conclusion)


def test_manova_not_estimable(demo):
    def edit(r):
        for key in ("time", "time_x_condition", "condition"):
            null_terms({key: r["alliance_manova"][key]})
        r["alliance_manova"]["not_estimable_reason"] = "no alliance complete cases (treated with WAI at W2, W5 and W9)"
        r["alliance_manova"]["n"] = 0
    results = edited(demo, edit)
    assert text.alliance_development(results) == ("The repeated-measures MANOVA could not be estimated "
                                                   "(no alliance complete cases [treated with WAI at W2, W5 and W9]; n=0).")
    # the mixed model (the sensitivity analysis) was estimated: the conclusion gives its answer
    week = mixed_estimate(results, "time")  # its sign says which way the alliance went
    way = "rose" if week["b"] > 0 else "fell"
    assert text.conclusion(results).startswith(
        "In this freeze, the MANOVA of the alliance could not be estimated, but in the mixed-model sensitivity "
        "analysis " + (f"the working alliance {way} over treatment" if week["p"] < 0.05
                       else "there was no evidence that the working alliance changed over treatment"))


@pytest.mark.parametrize("time_p", [SIG, NONSIG])
def test_the_conclusion_falls_back_on_the_mixed_model(demo, time_p):
    def edit(r):
        for key in ("time", "time_x_condition", "condition"):
            null_terms({key: r["alliance_manova"][key]})
        r["alliance_manova"]["not_estimable_reason"] = "no alliance complete cases"
        mixed_estimate(r, "time")["p"] = time_p
        mixed_estimate(r, "time_x_condition")["p"] = NONSIG
    results = edited(demo, edit)
    first = text.conclusion(results).split(";")[0]
    way = "rose" if mixed_estimate(results, "time")["b"] > 0 else "fell"
    development = (f"the working alliance {way} over treatment" if time_p < 0.05
                   else "there was no evidence that the working alliance changed over treatment")
    assert first == ("In this freeze, the MANOVA of the alliance could not be estimated, but in the mixed-model "
                     f"sensitivity analysis {development}, with no evidence that it developed differently in the two "
                     "conditions")


@pytest.mark.parametrize("case", ["agree", "manova missing", "disagree", "neither"])
def test_the_abstract_gives_the_mixed_model_when_the_manova_cannot_test_or_they_disagree(demo, case):
    def edit(r):
        for effect in ("time", "time_x_condition", "condition"):
            r["alliance_manova"][effect]["p"] = NONSIG
            mixed_estimate(r, effect)["p"] = NONSIG
        if case in ("manova missing", "neither"):
            for key in ("time", "time_x_condition", "condition"):
                null_terms({key: r["alliance_manova"][key]})
            r["alliance_manova"]["not_estimable_reason"] = "no alliance complete cases"
        if case == "neither":
            for effect in ("time", "time_x_condition", "condition"):
                mixed_estimate(r, effect)["p"] = None
            r["alliance_mixed"]["not_estimable_reason"] = "singular fixed-effects design (one week only)"
        if case == "disagree":
            mixed_estimate(r, "time")["p"] = SIG
    results = edited(demo, edit)
    abstract, mixed = text.alliance_abstract(results), text.alliance_mixed(results)
    assert abstract.startswith(text.alliance_development(results))
    # whenever the MANOVA could not test the change, the abstract says what the mixed model gave
    assert (mixed in abstract) == (case != "agree")
    if case == "neither":
        assert abstract.endswith(" The linear mixed model could not be estimated "
                                 "(singular fixed-effects design [one week only]).")
    assert ("mixed-model" in text.conclusion(results)) == (case in ("manova missing", "disagree"))


def test_alliance_development_not_testable_in_either_model(demo):
    def edit(r):
        for key in ("time", "time_x_condition", "condition"):
            null_terms({key: r["alliance_manova"][key]})
        r["alliance_manova"]["not_estimable_reason"] = "no alliance complete cases"
        for effect in ("time", "time_x_condition", "condition"):
            mixed_estimate(r, effect)["p"] = None
    conclusion = text.conclusion(edited(demo, edit))
    assert conclusion.startswith("In this freeze, the development of the alliance could not be tested (see Results);")


# ------------------------------------------------------------------ Aim 2: MANOVA versus mixed model

def mixed_estimate(r, effect):
    mixed = r["alliance_mixed"]
    return {"time": mixed["contrasts"]["week_average"], "condition": mixed["contrasts"]["condition_at_mean_week"],
            "time_x_condition": mixed["terms"]["week_x_condition_embct"]}[effect]


@pytest.mark.parametrize("manova_p, mixed_p, agree", [
    ({"time": SIG, "time_x_condition": NONSIG, "condition": NONSIG},
     {"time": SIG, "time_x_condition": NONSIG, "condition": NONSIG}, {"time", "time_x_condition", "condition"}),
    ({"time": SIG, "time_x_condition": NONSIG, "condition": NONSIG},
     {"time": NONSIG, "time_x_condition": NONSIG, "condition": SIG}, {"time_x_condition"}),
    ({"time": SIG, "time_x_condition": SIG, "condition": SIG},
     {"time": NONSIG, "time_x_condition": NONSIG, "condition": NONSIG}, set()),
])
def test_mixed_model_agreement_is_stated_as_it_is(demo, manova_p, mixed_p, agree):
    def edit(r):
        for effect in manova_p:
            r["alliance_manova"][effect]["p"] = manova_p[effect]
            mixed_estimate(r, effect)["p"] = mixed_p[effect]
    results = edited(demo, edit)
    # the directions of the demo agree (alliance rising in both models); keep them so
    sentence = text.alliance_mixed(results)
    labels = {"time": "time", "time_x_condition": "time × condition", "condition": "condition"}
    disagree = set(manova_p) - agree
    if not disagree:
        assert "agreed with the MANOVA on time, condition and time × condition:" in sentence
    elif not agree:
        assert "did not agree with the MANOVA on time, condition or time × condition:" in sentence
    else:
        assert f"agreed with the MANOVA on {labels[next(iter(agree))]} but not on" in sentence
    for effect in disagree:
        manova_side = "was significant" if manova_p[effect] < 0.05 else "gave no evidence of an effect"
        assert f"On {labels[effect]}, the MANOVA {manova_side} ({fmt.p_statement(manova_p[effect])})" in sentence
    assert "same picture" not in sentence
    conclusion = text.conclusion(results)
    assert ("(the mixed-model sensitivity analysis " in conclusion) == bool(disagree)


def test_opposite_directions_are_a_disagreement(demo):
    def edit(r):
        r["alliance_manova"]["time"]["p"] = SIG
        term = mixed_estimate(r, "time")
        term["p"], term["b"] = SIG, -abs(term["b"])
    results = edited(demo, edit)
    sentence = text.alliance_mixed(results)
    assert "but not on time" in sentence
    assert "On time, both were significant but the two estimates point in opposite directions." in sentence


def test_mixed_model_without_a_manova_to_compare(demo):
    def edit(r):
        for key in ("time", "time_x_condition", "condition"):
            null_terms({key: r["alliance_manova"][key]})
        r["alliance_manova"]["not_estimable_reason"] = "too few complete cases"
    sentence = text.alliance_mixed(edited(demo, edit))
    assert "the MANOVA has no result to compare them with" in sentence and "agreed" not in sentence


def test_mixed_model_not_estimable_and_boundary_note(demo):
    def not_estimable(r):
        null_terms(r["alliance_mixed"]["terms"])
        null_terms(r["alliance_mixed"]["contrasts"])
        r["alliance_mixed"]["not_estimable_reason"] = "singular fixed-effects design (one condition only)"
    assert text.alliance_mixed(edited(demo, not_estimable)) == (
        "The linear mixed model could not be estimated (singular fixed-effects design [one condition only]).")

    def boundary(r):
        r["alliance_mixed"]["note"] = "the random-intercept variance is estimated at zero"
    assert text.alliance_mixed(edited(demo, boundary)).endswith(
        "Note: the random-intercept variance is estimated at zero.")


# ------------------------------------------------------------------ Aim 3

@pytest.mark.parametrize("p, b, words", [
    (SIG, -1.5, "Higher early alliance was associated with lower post-treatment HADS total"),
    (SIG, 1.5, "Higher early alliance was associated with higher post-treatment HADS total"),
    (NONSIG, -1.5, "There was no evidence that early alliance was associated with post-treatment HADS total"),
])
@pytest.mark.parametrize("interaction_p", [SIG, NONSIG])
def test_outcome_sentence(demo, p, b, words, interaction_p):
    def edit(r):
        set_term(r["outcome_models"]["hads"]["terms"]["wai_w2"], p=p, b=b)
        r["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]["p"] = interaction_p
    results = edited(demo, edit)
    sentence = text.outcome(results, "hads", "HADS total")
    term = results["outcome_models"]["hads"]["terms"]["wai_w2"]
    assert sentence.startswith(words)
    assert fmt.ci(term["ci_low"], term["ci_high"]) in sentence and fmt.p_statement(p) in sentence
    assert ("on average over the two conditions" in sentence) == (interaction_p < 0.05)


@pytest.mark.parametrize("n, parameters, df, caution", [
    (5, 4, 1, " With 5 participants for 4 parameters (1 residual degree of freedom), the estimates are very "
              "imprecise."),
    (13, 4, 9, " With 13 participants for 4 parameters (9 residual degrees of freedom), the estimates are very "
               "imprecise."),
    # not n − df on purpose: the sentence prints the count of results.json (n_parameters), computes none
    (14, 3, 9, " With 14 participants for 3 parameters (9 residual degrees of freedom), the estimates are very "
               "imprecise."),
    (14, 4, 10, ""),  # 10 residual df: no caution
])
@pytest.mark.parametrize("p", [SIG, NONSIG])
def test_an_outcome_model_with_few_residual_degrees_of_freedom_is_called_imprecise(demo, n, parameters, df, caution,
                                                                                  p):
    def edit(r):
        r["outcome_models"]["hads"].update(n=n, n_parameters=parameters, df_resid=df)
        set_term(r["outcome_models"]["hads"]["terms"]["wai_w2"], p=p, b=-6.6)
    sentence = text.outcome(edited(demo, edit), "hads", "HADS total")
    assert sentence.endswith(f"n={n}).{caution}")
    assert text.outcome(demo, "hads", "HADS total").endswith(f"n={demo['outcome_models']['hads']['n']}).")


@pytest.mark.parametrize("slopes, words, conclusion_words", [
    ({"MBCT": (SIG, -5.4), "eMBCT": (NONSIG, 1.2)},
     "higher early alliance was associated with lower post-treatment HADS total in MBCT",
     "higher early alliance went with lower post-treatment distress in MBCT, with no evidence of an "
     "association in eMBCT"),
    ({"MBCT": (NONSIG, -0.4), "eMBCT": (SIG, 2.2)},
     "higher early alliance was associated with higher post-treatment HADS total in eMBCT",
     "higher early alliance went with higher post-treatment distress in eMBCT, with no evidence of an "
     "association in MBCT"),
    ({"MBCT": (SIG, -5.4), "eMBCT": (SIG, -1.2)},
     "in both conditions, more strongly in MBCT",
     "in both conditions, to a different degree"),
    ({"MBCT": (SIG, -1.2), "eMBCT": (SIG, -5.4)},
     "in both conditions, more strongly in eMBCT",
     "in both conditions, to a different degree"),
    ({"MBCT": (SIG, -5.4), "eMBCT": (SIG, 2.0)},
     "the association went in opposite directions in the two conditions",
     "in opposite directions in the two conditions"),
    ({"MBCT": (NONSIG, -1.4), "eMBCT": (NONSIG, 1.0)},
     "within neither condition was the association significant on its own",
     "without a significant association within either"),
])
def test_significant_interaction_is_described_by_the_simple_slopes(demo, slopes, words, conclusion_words):
    def edit(r):
        r["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]["p"] = SIG
        r["outcome_models"]["hads"]["terms"]["wai_w2"]["p"] = SIG
        for condition, (p, b) in slopes.items():
            set_term(r["outcome_models"]["hads_moderation"]["simple_slopes"][condition], p=p, b=b)
    results = edited(demo, edit)
    sentence = text.moderation(results, "hads", "HADS total")
    assert sentence.startswith("The association with HADS total differed between the conditions (interaction")
    assert words in sentence
    conclusion = text.conclusion(results)
    assert conclusion_words in conclusion
    # no pooled claim about distress next to the per-condition one
    assert "went with lower post-treatment distress;" not in conclusion


@pytest.mark.parametrize("b_mbct, b_embct, stronger", [
    (-5.4, -1.2, "MBCT"), (-1.2, -5.4, "eMBCT"), (1.0, -3.0, "eMBCT"), (4.0, -3.0, "MBCT"), (None, 2.0, None),
])
def test_the_stronger_slope_is_the_larger_in_absolute_value(b_mbct, b_embct, stronger):
    slopes = {"MBCT": {"b": b_mbct}, "eMBCT": {"b": b_embct}}
    assert stronger_slope(slopes) == stronger


def test_no_interaction_reads_as_no_evidence(demo):
    results = edited(demo, lambda r: set_term(
        r["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"], p=NONSIG))
    sentence = text.moderation(results, "hads", "HADS total")
    assert sentence.startswith("There was no evidence that the association with HADS total differed")
    term = results["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]
    assert fmt.ci(term["ci_low"], term["ci_high"]) in sentence


@pytest.mark.parametrize("p, conclusion_words", [
    (SIG, "higher early alliance went with higher post-treatment mental well-being"),
    (NONSIG, "there was no evidence of an association between early alliance and post-treatment mental well-being"),
])
def test_outcome_conclusion_without_interaction(demo, p, conclusion_words):
    def edit(r):
        set_term(r["outcome_models"]["mhcsf"]["terms"]["wai_w2"], p=p, b=0.4)
        r["outcome_models"]["mhcsf_moderation"]["terms"]["wai_w2_c_x_condition_embct"]["p"] = NONSIG
    assert conclusion_words in text.conclusion(edited(demo, edit))


def test_outcome_not_estimable(demo):
    def edit(r):
        for name in ("hads", "hads_moderation"):
            null_terms(r["outcome_models"][name]["terms"])
            r["outcome_models"][name]["not_estimable_reason"] = "too few cases for 4 parameters"
            r["outcome_models"][name]["n"] = 3
        for slope in r["outcome_models"]["hads_moderation"]["simple_slopes"].values():
            for key in slope:
                slope[key] = None
    results = edited(demo, edit)
    # the n comes from its key, in the report's style (the reason has no number of cases)
    assert text.outcome(results, "hads", "HADS total") == ("The HADS total model could not be estimated "
                                                           "(too few cases for 4 parameters; n=3).")
    apa = edited(results, lambda r: r["settings"].update(style="apa"))
    assert text.outcome(apa, "hads", "HADS total").endswith("(too few cases for 4 parameters; n = 3).")

    def singular(r):
        edit(r)
        r["outcome_models"]["hads"]["not_estimable_reason"] = "singular design"
    assert text.outcome(edited(demo, singular), "hads", "HADS total") == (
        "The HADS total model could not be estimated (singular design; n=3).")
    assert text.moderation(results, "hads", "HADS total") == ("The HADS total moderation model could not be "
                                                              "estimated (too few cases for 4 parameters; n=3).")
    assert "association of early alliance with post-treatment distress could not be estimated" in text.conclusion(results)
    assert "similarly" not in text.conclusion(results)


# ------------------------------------------------------------------ interim or final, and the flow

def test_final_freeze_has_no_interim_notice(demo):
    assert demo["interim"]["is_interim"] is False
    assert text.interim_notice(demo) == ""
    assert text.conclusion(demo).endswith("These results of the complete follow-up are for the committees, not a publication.")


# (waiting period, in treatment, of them with no session attended, awaiting a follow-up, of them awaiting T1)
# → the notice's words
@pytest.mark.parametrize("counts, words", [
    ((3, 0, 0, 0, 0), "there were 3 participants still in their waiting period,"),
    ((0, 5, 0, 7, 2), "there were 5 participants in treatment and 7 awaiting a follow-up assessment (2 of them at T1),"),
    ((1, 0, 0, 2, 2), "there was 1 participant still in their waiting period and 2 awaiting a follow-up assessment "
                      "(all of them at T1),"),
    ((0, 4, 0, 3, 0), "there were 4 participants in treatment and 3 awaiting a follow-up assessment (only at T2 or T3),"),
    ((0, 1, 0, 0, 0), "there was 1 participant in treatment,"),
    ((0, 2, 0, 1, 1), "there were 2 participants in treatment and 1 awaiting a follow-up assessment (at T1),"),
    ((0, 5, 2, 7, 2), "there were 5 participants in treatment (2 of them with no session attended yet) and 7 awaiting "
                      "a follow-up assessment (2 of them at T1),"),
    ((2, 4, 4, 0, 0), "there were 2 participants still in their waiting period and 4 in treatment (none of them with "
                      "a session attended yet),"),
    ((0, 1, 1, 0, 0), "there was 1 participant in treatment (no session attended yet),"),
])
def test_interim_notice(demo, counts, words):
    keys = ("waiting_period", "in_treatment", "in_treatment_none_attended", "awaiting_follow_up",
            "awaiting_analysed_follow_up")

    def edit(r):
        r["interim"] = {"is_interim": True, **dict(zip(keys, counts)), "analysed_data_complete": False}
    results = edited(demo, edit)
    notice = text.interim_notice(results)
    assert words + " so these results will change as data accrue." in notice
    assert "re-tests at α=.05 without correction for repeated looks" in notice
    assert "complete follow-up" not in text.conclusion(results)


def test_interim_notice_when_only_follow_ups_no_analysis_uses_are_awaited(demo):
    """A late interim freeze: nobody waiting or in treatment, only T2/T3 forms to come — the
    analyses' data are complete, and the notice does not say their results will change."""
    def edit(r):
        r["interim"] = {"is_interim": True, "waiting_period": 0, "in_treatment": 0, "in_treatment_none_attended": 0,
                        "awaiting_follow_up": 38, "awaiting_analysed_follow_up": 0, "analysed_data_complete": True}
    notice = text.interim_notice(edited(demo, edit))
    assert notice.startswith("At the cut-off there were 38 participants awaiting a follow-up assessment "
                             "(only at T2 or T3); these analyses do not use T2 or T3, so their results will not "
                             "change as those data accrue. Every freeze re-tests")
    assert "so these results will change" not in notice


def test_flow_sentence_at_an_interim_cut_off(demo):
    def edit(r):
        c = r["consort"]
        c["tau_waiting"], c["in_treatment"] = 4, {"MBCT": 2, "eMBCT": 3}
        c["t1_not_yet_due"], c["withdrawn_before_t1"] = {"MBCT": 5, "eMBCT": 6}, {"MBCT": 0, "eMBCT": 1}
        c["t1_overdue_in_treatment"] = {"MBCT": 1, "eMBCT": 0}
        c["in_treatment_none_attended"] = {"MBCT": 0, "eMBCT": 2}
    flow = text.flow(edited(demo, edit))
    assert "4 were still in their waiting period at the cut-off" in flow
    assert ("2 in MBCT and 3 in eMBCT were still in treatment; they are excluded from the dropout analyses. "
            "Of them, 0 in MBCT and 2 in eMBCT had attended no session yet.") in flow
    assert "no session" not in text.flow(demo)
    assert "for 5 in MBCT and 6 in eMBCT T1 was not yet due" in flow
    assert "in eMBCT. Of the treated participants, 98 in MBCT and 96 in eMBCT had a post-treatment (T1) HADS" \
        in text.flow(demo)
    for sentence_start in re.findall(r"(?:^|[.!?] )(\S)", flow + " " + text.flow(demo)):
        assert not sentence_start.isdigit(), flow  # APA: a sentence never starts with a numeral
    assert "0 in MBCT and 1 in eMBCT had withdrawn from the study before T1" in flow
    assert "1 in MBCT and 0 in eMBCT had no T1 score although T1 was due" in flow
    final = text.flow(demo)
    for absent in ("waiting period at the cut-off", "still in treatment", "not yet due", "although T1 was due"):
        assert absent not in final


# ------------------------------------------------------------------ a count of 1 takes the singular

def test_counts_of_one_take_the_singular(demo):
    def edit(r):
        c = r["consort"]
        c["rerandomized"] = {"MBCT": 1, "eMBCT": 2}
        c["tau_waiting"], c["tau_not_rerandomized"] = 1, 1
        c["treated"]["MBCT"] = 1
        c["randomized"] = 1
        r["dropout_model"]["events"] = 1
        r["alliance_mixed"]["n_participants"] = 1
    results = edited(demo, edit)
    flow = text.flow(results)
    assert ("1 was re-randomized to MBCT and 2 to eMBCT after the waiting period, 1 was still in their waiting "
            "period at the cut-off and 1 was not re-randomized. In all, 1 participant was treated in MBCT") in flow
    assert text.flow_short(results).startswith("By the cut-off, 1 participant was randomized; 1 was treated in MBCT")
    assert text.flow_short(demo).startswith("By the cut-off, 245 participants were randomized;")  # no numeral first
    assert ", 1 dropout)" in text.dropout_model(results) or ", 1 dropout;" in text.dropout_model(results)
    assert "alliance scores of 1 participant " in text.alliance_mixed(results)
    # and the plural for every other count (the demo's)
    assert "were re-randomized to MBCT" in text.flow(demo) and "participants were treated in MBCT" in text.flow(demo)
    assert f"{demo['dropout_model']['events']} dropouts" in text.dropout_model(demo)


@pytest.mark.parametrize("median, q1, q3, shown", [
    (8.0, 6.0, 8.0, "median sessions 8, IQR 6–8"),          # whole numbers stay whole
    (7.0, 6.5, 7.5, "median sessions 7.0, IQR 6.5–7.5"),    # one of them between two counts: one decimal each
    (0.5, 0.0, 1.0, "median sessions 0.5, IQR 0.0–1.0"),
    (8.0, 7.75, 8.0, "median sessions 8.0, IQR 7.8–8.0"),   # 7.75 rounded half away from zero
])
def test_session_medians_and_quartiles_share_their_decimals(demo, median, q1, q3, shown):
    def edit(r):
        r["dropout_description"]["MBCT"].update(sessions_median=median, sessions_q1=q1, sessions_q3=q3)
    cell = demo["dropout_description"]["MBCT"]
    sentence = text.dropout_summary(edited(demo, edit))
    assert f"in MBCT ({fmt.percent(cell['dropout_pct'], cell['n'])}%; {shown})" in sentence


def test_the_measures_are_written_from_the_instruments_definitions(monkeypatch):
    """Methods, "Measures": the items, ranges and missing-item rules come from scoring.INSTRUMENTS
    (what the scores are computed with), so the text cannot drift from the scoring."""
    import dataclasses

    from alliance_report.scoring import INSTRUMENTS

    wai, hads, mhcsf = text.measures()
    assert wai.startswith("Working Alliance Inventory–Short Revised (WAI-SR; 12 items, 1–5), at the start of "
                          "treatment weeks 2, 5 and 9 (early alliance: week 2): mean of the answered items, "
                          "missing with more than 2 skipped items (subscales goal, task and bond: more than 1).")
    assert hads == ("Hospital Anxiety and Depression Scale (HADS; 14 items, 0–3): anxiety (odd items) and depression "
                    "(even items) prorated from the answered items (mean × 7) with at most 1 skipped item each; "
                    "total (0–42) = anxiety + depression.")
    assert "(MHC-SF; 14 items, 0–5)" in mhcsf and "at the start of treatment" not in mhcsf
    changed = dict(INSTRUMENTS, HADS=dataclasses.replace(INSTRUMENTS["HADS"], n_items=16, subscale_max_missing=2,
                                                         subscales={"anxiety": (1, 2, 3, 4, 5, 6, 7, 8),
                                                                    "depression": (9, 11, 13, 16)}))
    monkeypatch.setattr(text, "SCORED", changed)
    assert text.measures()[1] == ("Hospital Anxiety and Depression Scale (HADS; 16 items, 0–3): anxiety (items 1–8) "
                                  "and depression (items 9, 11, 13 and 16) prorated from the answered items (mean × "
                                  "the number of its items) with at most 2 skipped items each; total (0–48) = "
                                  "anxiety + depression.")


def _slope(b, p):
    return {"b": b, "se": 0.1, "t": b / 0.1, "p": p, "ci_low": None, "ci_high": None}


@pytest.mark.parametrize("interaction_p, slopes, same", [
    (0.01, {"MBCT": _slope(-0.5, 0.01), "eMBCT": _slope(-0.2, 0.03)}, True),
    (0.01, {"MBCT": _slope(-0.5, 0.01), "eMBCT": _slope(0.4, 0.02)}, False),
    (0.01, {"MBCT": _slope(-0.5, 0.01), "eMBCT": _slope(0.1, 0.40)}, None),   # significant in one only
    (0.30, {"MBCT": _slope(-0.5, 0.01), "eMBCT": _slope(-0.2, 0.03)}, None),  # described pooled
])
def test_the_direction_in_both_conditions_is_a_finding(interaction_p, slopes, same):
    """findings.outcome.<scale>.same_direction decides the moderation sentence and the conclusion."""
    from alliance_report.analysis.findings import outcome_finding

    main = {"terms": {"wai_w2": {"b": -1.0, "p": 0.01}}, "df_resid": 50}
    moderation = {"terms": {"wai_w2_c_x_condition_embct": {"b": 0.3, "p": interaction_p}}, "simple_slopes": slopes}
    assert outcome_finding(main, moderation)["same_direction"] is same


@pytest.mark.parametrize("manova_p, mixed_p, agree, reports_mixed", [
    (None, 0.01, None, True),    # the MANOVA not estimable, the mixed model is: the conclusion rests on it
    (None, None, None, True),    # neither: the abstract says the sensitivity analysis could not be estimated either
    (0.01, 0.02, True, False),   # they agree
    (0.01, 0.40, False, True),   # they disagree on an effect
])
def test_when_the_abstract_gives_the_mixed_model(manova_p, mixed_p, agree, reports_mixed):
    from alliance_report.analysis.findings import abstract_reports_mixed

    def effect(p_manova, p_mixed, agrees):
        return {"manova": {"p": p_manova, "significant": None if p_manova is None else p_manova < 0.05, "direction": 1},
                "mixed": {"p": p_mixed, "significant": None if p_mixed is None else p_mixed < 0.05, "direction": 1},
                "agree": agrees}
    alliance = {"time": effect(manova_p, mixed_p, agree), "condition": effect(manova_p, mixed_p, agree and True),
                "time_x_condition": effect(manova_p, mixed_p, None if agree is None else True)}
    assert abstract_reports_mixed(alliance) is reports_mixed


def test_large_counts_carry_thousands_separators_and_the_abstract_nests_brackets(demo):
    """A freeze 10× the demo: every count of the flow sentences is written "1,523"; the abstract's
    interim clause puts its T1 count in brackets inside its parentheses."""
    def edit(r):
        c = r["consort"]
        c["assessed"], c["randomized"], c["treated"] = 4321, 2450, {"MBCT": 1027, "eMBCT": 1094}
        r["interim"] = {"is_interim": True, "waiting_period": 12, "in_treatment": 1500, "in_treatment_none_attended": 0,
                        "awaiting_follow_up": 1200, "awaiting_analysed_follow_up": 1001,
                        "analysed_data_complete": False}
    results = edited(demo, edit)
    flow = text.flow(results)
    assert "Of 4,321 people assessed" in flow and "were randomized" in flow
    assert "1,027 participants were treated in MBCT and 1,094 in eMBCT." in flow
    assert text.flow_short(results) == (
        "By the cut-off, 2,450 participants were randomized; 1,027 were treated in MBCT and 1,094 in eMBCT (at "
        "the cut-off 12 in the waiting period, 1,500 in treatment and 1,200 awaiting follow-up [1,001 of them at T1]).")
    assert "1,500 in treatment and 1,200 awaiting a follow-up assessment (1,001 of them at T1)" in text.interim_notice(results)
    assert not re.search(r"\b\d{4,}\b", flow + text.flow_short(results) + text.interim_notice(results))


@pytest.mark.parametrize("manova_p, mixed_p, clause", [
    (SIG, NONSIG, "did not confirm it"),
    (NONSIG, SIG, "found the mean alliance higher in"),
])
def test_the_conclusion_says_which_model_found_the_difference_in_mean_alliance(demo, manova_p, mixed_p, clause):
    """A MANOVA condition effect that the mixed model does not confirm (or the reverse) is stated as
    such: the conclusion never reads as if the mixed model found what only the MANOVA did."""
    def edit(r):
        r["alliance_manova"]["condition"]["p"] = manova_p
        mixed_estimate(r, "condition")["p"] = mixed_p
        for effect in ("time", "time_x_condition"):  # the two agree on the other effects
            r["alliance_manova"][effect]["p"] = mixed_estimate(r, effect)["p"] = NONSIG
    results = edited(demo, edit)
    conclusion = text.conclusion(results)
    levels = {c: sum(results["alliance_descriptives"]["complete_cases"][c][w]["mean"] for w in ("W2", "W5", "W9"))
              for c in ("MBCT", "eMBCT")}
    higher, lower = sorted(levels, key=levels.get, reverse=True)
    if manova_p == SIG:  # the MANOVA's difference, and beside it that the mixed model did not confirm it
        assert (f"the mean alliance was higher in {higher} than in {lower} (the mixed-model sensitivity analysis "
                "did not confirm it)") in conclusion
    else:  # no difference in the MANOVA; the mixed model's, with its direction (the contrast eMBCT − MBCT)
        contrast = mixed_estimate(results, "condition")["b"]
        mixed_higher, mixed_lower = ("eMBCT", "MBCT") if contrast > 0 else ("MBCT", "eMBCT")
        assert ("there was no evidence of a difference in mean alliance between the conditions (the mixed-model "
                f"sensitivity analysis found the mean alliance higher in {mixed_higher} than in {mixed_lower})"
                ) in conclusion


def test_a_manova_on_very_few_cases_is_called_imprecise(demo):
    """As an outcome model with fewer than 10 residual df: the MANOVA's smallest error df
    (findings.manova_error_df) below 10 adds the caution to its sentence (and so to the abstract)."""
    from alliance_report.analysis.findings import manova_precision

    assert manova_precision({"time": {"df2": 1}, "time_x_condition": {"df2": 1}, "condition": {"df2": 2}}) == {
        "manova_error_df": 1, "manova_few_error_df": True}
    assert manova_precision({"time": {"df2": 80}, "time_x_condition": {"df2": 80}, "condition": {"df2": 81}}) == {
        "manova_error_df": 80, "manova_few_error_df": False}
    assert manova_precision({e: {"df2": None} for e in ("time", "time_x_condition", "condition")}) == {
        "manova_error_df": None, "manova_few_error_df": False}
    assert "very imprecise" not in text.alliance_development(demo)

    def edit(r):
        manova = r["alliance_manova"]
        manova["n"] = 4
        manova["time"]["df2"] = manova["time_x_condition"]["df2"] = 1
        manova["condition"]["df2"] = 2
    sentence = text.alliance_development(edited(demo, edit))
    assert sentence.endswith(" With 4 complete cases (1 error degree of freedom), the MANOVA's estimates are very "
                             "imprecise.")


def test_the_conclusion_places_each_disagreement_beside_its_effect(demo):
    """The demo's alliance rises (complete-case means W2 < W9 in both conditions)."""
    means = demo["alliance_descriptives"]["complete_cases"]
    assert all(means[c]["W9"]["mean"] > means[c]["W2"]["mean"] for c in ("MBCT", "eMBCT"))

    def opposite(r):  # both significant on time, the mixed model's weekly change negative
        r["alliance_manova"]["time"]["p"] = SIG
        week = mixed_estimate(r, "time")
        week["p"], week["b"] = SIG, -abs(week["b"])
    assert text.conclusion(edited(demo, opposite)).startswith(
        "In this freeze, the working alliance rose over treatment (the mixed-model sensitivity analysis estimated "
        "the opposite direction)")

    def only_mixed(r):  # no evidence in the MANOVA, a rise in the mixed model
        r["alliance_manova"]["time"]["p"] = NONSIG
        week = mixed_estimate(r, "time")
        week["p"], week["b"] = SIG, abs(week["b"])
    assert text.conclusion(edited(demo, only_mixed)).startswith(
        "In this freeze, there was no evidence that the working alliance changed over treatment (the mixed-model "
        "sensitivity analysis found it rising)")

    def time_missing(r):  # the MANOVA's time test not estimable, its other tests estimated
        null_terms({"time": r["alliance_manova"]["time"]})
    conclusion = text.conclusion(edited(demo, time_missing))
    assert conclusion.startswith("In this freeze, the change of the working alliance over treatment could not be tested")
    assert "the MANOVA of the alliance could not be estimated" not in conclusion


@pytest.mark.parametrize("mixed_p, sign, note", [
    (SIG, 1, " by the MANOVA (the mixed-model sensitivity analysis found the alliance rising)"),
    (SIG, -1, " by the MANOVA (the mixed-model sensitivity analysis found the alliance falling)"),
    (NONSIG, 1, " by the MANOVA (the mixed-model sensitivity analysis found no evidence of a change)"),
    (None, 1, ""),
])
def test_a_change_the_manova_could_not_test_is_said_as_the_mixed_model_found_it(demo, mixed_p, sign, note):
    """The MANOVA's time test not estimable while its other tests are: the abstract then gives the
    mixed model (findings.abstract_reports_mixed), and the conclusion says what it found of the
    change (nothing where its week term is not estimable either)."""
    from alliance_report.analysis.findings import abstract_reports_mixed

    def edit(r):
        null_terms({"time": r["alliance_manova"]["time"]})
        week = mixed_estimate(r, "time")
        if mixed_p is None:
            null_terms({"time": week})
        else:
            week["p"], week["b"] = mixed_p, sign * abs(week["b"])
    results = edited(demo, edit)
    assert text.conclusion(results).startswith(
        f"In this freeze, the change of the working alliance over treatment could not be tested{note},")
    assert abstract_reports_mixed(results["findings"]["alliance"])
