"""Tables of the report: each a function of ``results`` that returns formatted cells.

A :class:`Table` holds display strings only; the same object is rendered into the HTML,
into the Quarto markdown, and written to ``tables/<name>.csv``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from alliance_report.render import format as fmt
from alliance_report.scoring import INSTRUMENTS as SCORED

from alliance_report.design import ALLIANCE_WEEKS as WEEKS
from alliance_report.design import CONDITIONS, INSTRUMENT_LABELS, INSTRUMENT_TITLES, N_SESSIONS, OUTCOME_SCALES

TERM_LABELS = {
    "intercept": "Intercept",
    "baseline": "Baseline score",
    "wai_w2": "Early alliance (WAI week 2)",
    "wai_w2_c": "Early alliance (WAI week 2)",
    "condition_embct": "Condition (eMBCT vs MBCT)",
    "wai_w2_c_x_condition_embct": "Early alliance × condition",
    "week": "Week",
    "week_x_condition_embct": "Week × condition",
    "week_average": "Week, averaged over the conditionsᵃ",
    "condition_at_mean_week": "Condition at the mean weekᵃ",
}

VARIABLE_LABELS = {
    "age": "Age (years), mean (SD)",
    "sex": "Female, n (%)",
    "partner": "In a relationship, n (%)",
    "children": "Children, n (%)",
    "education": "Education, n (%)",
    "cancer_type": "Cancer type, n (%)",
    "treatment_intent": "Curative treatment intent, n (%)",
    "months_since_diagnosis": "Months since diagnosis, median (IQR)",
    "baseline_hads": "HADS total, mean (SD)",
    "baseline_hads_anxiety": "HADS anxiety, mean (SD)",
    "baseline_hads_depression": "HADS depression, mean (SD)",
    "baseline_mhcsf": "MHC-SF mean score, mean (SD)",
}
MULTI_LEVEL = ("education", "cancer_type")

# the report's abbreviations, each written out once
ABBREVIATION_WORDS = {"MBCT": "mindfulness-based cognitive therapy", "eMBCT": "internet-based MBCT",
                      "TAU": "treatment as usual (waiting list)",
                      **{INSTRUMENT_LABELS[name]: title for name, (_, title) in INSTRUMENT_TITLES.items()}}


def abbreviations(*names: str) -> str:
    """"MBCT: mindfulness-based cognitive therapy; …." for the abbreviations ``names``."""
    return "; ".join(f"{name}: {ABBREVIATION_WORDS[name]}" for name in names) + "."


ABBREVIATIONS = abbreviations("MBCT", "eMBCT", "WAI", "HADS", "MHC-SF")


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    indent: int = 0           # levels under the row it belongs to (True: one)
    group: bool = False       # a group label spanning the row


@dataclass(frozen=True)
class Table:
    name: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    footnote: str
    # optional spanning header above the columns: (label, number of columns)
    header_groups: tuple[tuple[str, int], ...] = field(default=())
    # how many leading columns hold text (left-aligned) rather than numbers
    text_columns: int = 1

    def csv_header(self) -> tuple[str, ...]:
        labels = []
        for label, span in self.header_groups:
            labels += [label] * span
        return tuple(f"{group}: {col}" if group else col
                     for group, col in zip(labels or [""] * len(self.header), self.header))

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.csv_header())
        for row in self.rows:
            cells = list(row.cells) + [""] * (len(self.header) - len(row.cells))
            writer.writerow(cells)
        return buffer.getvalue()


def _model_fit_note(model: dict, style: str) -> str:
    if model["r2"] is None:
        return f"{fmt.count('n', model['n'], style)}; not estimable: {model['not_estimable_reason']}."
    return (f"{fmt.count('n', model['n'], style)}; {fmt.stat('R²', model['r2'], 3, style, bounded=True)}; "
            f"{fmt.stat('adjusted R²', model['adj_r2'], 3, style, bounded=True)}.")


# ---------------------------------------------------------------- Table 1

def _table1_cells(row: dict, groups: tuple[str, ...]) -> list[str]:
    cells = []
    for group in groups:
        cell = row["cells"][group]
        if row["kind"] == "mean_sd":
            cells.append(fmt.mean_sd(cell["mean"], cell["sd"]))
        elif row["kind"] == "median_iqr":
            cells.append(fmt.median_iqr(cell["median"], cell["q1"], cell["q3"]))
        else:
            cells.append(fmt.n_percent(cell["n"], cell["pct"], cell["denominator"]))
    return cells


def _test_cells(test: dict, style: str) -> list[str]:
    name = "χ²" if test["name"] == "chi2" else "t"
    return [fmt.test_statistic(name, test["statistic"], test["df"], style=style)
            if test["statistic"] is not None else fmt.MISSING, fmt.p_value(test["p"], style)]


def table1(results: dict) -> Table:
    """Baseline characteristics by condition and overall; overall only when the results have no
    condition (the open edition: no SMD, no tests)."""
    baseline = results["baseline_characteristics"]
    style = results["settings"]["style"]
    n = baseline["n"]
    by_condition = all(c in n for c in CONDITIONS)
    with_tests = by_condition and results["settings"]["table1_tests"]
    groups = (*CONDITIONS, "overall") if by_condition else ("overall",)
    labels = {"MBCT": "MBCT", "eMBCT": "eMBCT", "overall": "Overall" if by_condition else "Treated"}
    header = ("Characteristic", *(f"{labels[g]} ({fmt.count('n', n[g], style)})" for g in groups)) \
        + (("SMD",) if by_condition else ()) + (("Test", fmt.header("p", style)) if with_tests else ())
    rows, seen = [], set()
    for row in baseline["rows"]:
        variable = row["variable"]
        tests = _test_cells(row["test"], style) if with_tests else []
        smd = [fmt.number(row["smd"])] if by_condition else []
        if variable in MULTI_LEVEL:
            if variable not in seen:
                rows.append(Row((VARIABLE_LABELS[variable], *[""] * (len(groups) + len(smd)), *tests), group=True))
                seen.add(variable)
            rows.append(Row((row["level"].capitalize(), *_table1_cells(row, groups), *smd), indent=True))
        else:
            rows.append(Row((VARIABLE_LABELS[variable], *_table1_cells(row, groups), *smd, *tests)))
    footnote = ("Treated population; baseline questionnaire scores at each participant's own "
                "pre-treatment assessment (T0b for re-randomized participants, T0 otherwise). "
                "Percentages of participants with a known value. "
                + ("SMD: standardized difference, eMBCT − MBCT: of the means over the root mean of the two "
                   "variances (months since diagnosis too, though shown as median and quartiles), or of a level's "
                   "proportions (|SMD| < 0.1 is commonly taken as negligible). "
                   if by_condition else "Pooled over the treatment arms. ")
                + ("Test: Student t test (continuous) or Pearson χ² (categorical). " if with_tests else "")
                + ABBREVIATIONS)
    caption = ("Baseline characteristics of the treated participants by condition" if by_condition
               else "Baseline characteristics of the treated participants, pooled over the treatment arms")
    return Table("baseline_characteristics", caption, header, tuple(rows), footnote)


# ---------------------------------------------------------------- open edition

FLOW_ROWS = (  # key of the pooled participant_flow, label, level (the rows one level under a row add up to it)
    ("assessed", "Assessed for eligibility", 0),
    ("excluded", "Not randomized", 0),
    ("excluded_reasons", None, 1),
    ("randomized", "Randomized", 0),
    ("first_round", "Treated after the first randomization (MBCT or eMBCT)", 1),
    ("waiting_list", "Waiting list (TAU)", 1),
    ("rerandomized", "Re-randomized and treated after the waiting period", 2),
    ("tau_waiting", "Waiting period still running", 2),
    ("tau_not_rerandomized", "Not re-randomized", 2),
    ("tau_not_rerandomized_reasons", None, 3),
    ("treated", "Treated (MBCT or eMBCT)", 0),
    ("in_treatment", "Still in treatment at the cut-off", 1),
    ("in_treatment_attended", "attended ≥ 1 session", 2),
    ("in_treatment_none_attended", "no session attended yet", 2),
    ("treatment_ended", "Treatment ended", 1),
    ("received_min_sessions", "received ≥ {k} sessions", 2),
    ("dropout", "dropout, < {k} sessions", 2),
    ("discontinued", "Discontinued treatment", 0),
    ("discontinued_reasons", None, 1),
    ("t1_assessed", "Assessed at T1 (HADS score)", 0),
    ("lost_to_follow_up_t1", "Lost to follow-up at T1 (T1 due, no HADS score)", 0),
    ("withdrawn_before_t1", "Withdrew from the study before T1", 0),
    ("withdrawn_before_t1_reasons", None, 1),
    ("t1_not_yet_due", "T1 not yet due", 0),
    ("t1_overdue_in_treatment", "T1 due, treatment not recorded as ended", 0),
)


def participant_flow_table(flow: dict, dropout_threshold: int) -> Table:
    """The pooled participant flow of the open edition (CONSORT up to randomization, pooled after)."""
    rows = []
    for key, label, level in FLOW_ROWS:
        if label is None:
            rows += [Row((f"– {fmt.reason(reason)}", fmt.integer(n)), indent=level)
                     for reason, n in flow[key].items()]
        else:
            rows.append(Row((label.format(k=dropout_threshold), fmt.integer(flow[key])), indent=level))
    footnote = ("Counts at the cut-off date, pooled over the two treatment arms (MBCT and eMBCT). Treated = "
                "still in treatment + treatment ended, still in treatment = attended ≥ 1 session + no session "
                "attended yet; treated = assessed at T1 + lost to follow-up + withdrew "
                "before T1 + T1 not yet due + T1 due with the treatment not recorded as ended. TAU: treatment "
                "as usual, the waiting list, randomized again to MBCT or eMBCT after the waiting period.")
    return Table("participant_flow", "Participant flow, pooled over the treatment arms", ("Stage", "n"),
                 tuple(rows), footnote)


# ---------------------------------------------------------------- alliance

def alliance_means_table(results: dict) -> Table:
    descriptives, style = results["alliance_descriptives"], results["settings"]["style"]
    # the complete cases are the same participants at every week: their n heads the column
    complete_n = {c: descriptives["complete_cases"][c][WEEKS[0]]["n"] for c in CONDITIONS}
    header = ("Week",
              *(f"{c} ({fmt.count('n', complete_n[c], style)})" for c in CONDITIONS),
              *(column for c in CONDITIONS for column in (f"{c} n", c)))
    rows = []
    for week in WEEKS:
        complete = [descriptives["complete_cases"][c][week] for c in CONDITIONS]
        available = [descriptives["available"][c][week] for c in CONDITIONS]
        rows.append(Row((
            fmt.ALLIANCE_WEEK_LABELS[week],
            *(fmt.mean_sd(cell["mean"], cell["sd"]) for cell in complete),
            *(text for cell in available for text in (fmt.integer(cell["n"]), fmt.mean_sd(cell["mean"], cell["sd"]))),
        )))
    footnote = (f"WAI mean scores (range {fmt.score_range(SCORED['WAI'])}), mean (SD). Complete cases: treated participants with "
                f"WAI scores at weeks {fmt.ALLIANCE_WEEKS_TEXT} (the MANOVA sample). All available: every treated "
                "participant with a WAI score at that week. " + ABBREVIATIONS)
    return Table("alliance_means", "Working alliance by week and condition", header, tuple(rows),
                 footnote, header_groups=(("", 1), ("Complete cases", 2), ("All available data", 4)))


def manova_table(results: dict) -> Table:
    manova = results["alliance_manova"]
    style = results["settings"]["style"]
    header = ("Effect", *(fmt.header(key, style) for key in ("wilks", "f", "df", "p", "partial_eta_sq")))
    rows = []
    for key, label in (("time", "Time"), ("time_x_condition", "Time × condition"), ("condition", "Condition")):
        effect = manova[key]
        rows.append(Row((label, fmt.bounded_number(effect.get("wilks"), 3, style) if key != "condition" else "",
                         fmt.number(effect["f"]), fmt.degrees_of_freedom((effect["df1"], effect["df2"])),
                         fmt.p_value(effect["p"], style), fmt.bounded_number(effect["partial_eta_sq"], 3, style))))
    reason = f" Not estimable: {manova['not_estimable_reason']}." if manova["not_estimable_reason"] else ""
    footnote = (f"Repeated-measures MANOVA (profile analysis) of the WAI mean score at weeks {fmt.ALLIANCE_WEEKS_TEXT} in "
                f"the alliance complete cases ({fmt.count('n', manova['n'], style)}); condition with sum-to-zero coding "
                "(type III, as SPSS GLM repeated measures). Time and time × condition: exact F from "
                "Wilks Λ, partial η² = 1 − Λ; condition: univariate F on the mean of the three weeks."
                f"{reason}")
    return Table("alliance_manova", "Development of the working alliance over time", header,
                 tuple(rows), footnote)


def mixed_model_table(results: dict) -> Table:
    mixed = results["alliance_mixed"]
    style = results["settings"]["style"]
    header = ("Fixed effect", *(fmt.header(key, style) for key in ("b", "se", "ci", "z", "p")))
    estimates = [*mixed["terms"].items(), *mixed["contrasts"].items()]
    rows = tuple(
        Row((TERM_LABELS[key], fmt.number(term["b"], 3), fmt.number(term["se"], 3),
             fmt.ci_range(term["ci_low"], term["ci_high"], 3, style), fmt.number(term["z"]),
             fmt.p_value(term["p"], style)))
        for key, term in estimates)
    reason = f" Not estimable: {mixed['not_estimable_reason']}." if mixed["not_estimable_reason"] else ""
    note = f" Note: {mixed['note']}." if mixed.get("note") else ""
    components = mixed.get("variance_components") or {}  # (a results.json without it fails its schema check)
    variances = (f" Variance components: random intercept {fmt.stat('τ̂²', components['tau2'], 3, style)}, "
                 f"residual {fmt.stat('σ̂²', components['sigma2'], 3, style)}."
                 if components.get("tau2") is not None else "")
    footnote = ("Linear mixed model of all available WAI scores, wai ~ week × condition + (1 | participant), "
                f"REML; week in weeks ({fmt.ALLIANCE_WEEKS_TEXT}); {fmt.integer(mixed['n_observations'])} scores of "
                f"{fmt.integer(mixed['n_participants'])} participants. Model-based standard errors (as SPSS MIXED, R nlme "
                "and lme4), Wald z and 95% CI. Week is the weekly change in MBCT (the reference) and condition "
                "the eMBCT − MBCT difference at week 0. ᵃLinear combinations of the fixed effects, the "
                "counterparts of the MANOVA's time and condition effects: the weekly change averaged over "
                f"the two conditions, and eMBCT − MBCT at the mean of weeks {fmt.ALLIANCE_WEEKS_TEXT}."
                f"{variances}{reason}{note}")
    return Table("alliance_mixed", "Sensitivity analysis: linear mixed model of the working alliance",
                 header, rows, footnote)


# ---------------------------------------------------------------- dropout and outcome models

def dropout_model_table(results: dict) -> Table:
    model = results["dropout_model"]
    style = results["settings"]["style"]
    header = ("Predictor", *(fmt.header(key, style) for key in ("b", "se", "ci", "z", "p", "or", "or_ci")))
    rows = tuple(
        Row((TERM_LABELS[key], fmt.number(term["b"]), fmt.number(term["se"]),
             fmt.ci_range(term["ci_low"], term["ci_high"], style=style), fmt.number(term["z"]),
             fmt.p_value(term["p"], style), fmt.number(term["or"]),
             fmt.ci_range(term["or_ci_low"], term["or_ci_high"], style=style)))
        for key, term in model["terms"].items())
    reason = f" Not estimable: {model['not_estimable_reason']}." if model["not_estimable_reason"] else ""
    threshold = results["settings"]["dropout_threshold"]
    footnote = (f"Logistic regression of dropout (fewer than {threshold} of {N_SESSIONS} sessions attended) in "
                f"participants with an early alliance score whose treatment has ended; "
                f"{fmt.count('n', model['n'], style)}, {fmt.plural(model['events'], 'dropout', 'dropouts')}. Wald z and 95% CI of B; "
                f"OR: odds ratio, exp(B), with its 95% CI, exp of the CI of B.{reason}")
    return Table("dropout_model", "Early alliance and dropout", header, rows, footnote)


def _outcome_cells(term: dict | None, style: str) -> tuple[str, ...]:
    if term is None:
        return ("", "", "", "", "")
    return (f"{fmt.number(term['b'])} ({fmt.number(term['se'])})",
            fmt.ci_range(term["ci_low"], term["ci_high"], style=style),
            fmt.number(term["beta"]) if term["beta"] is not None else "",
            fmt.number(term["t"]), fmt.p_value(term["p"], style))


def outcome_table(results: dict, scale: str, outcome_label: str) -> Table:
    """Main and moderation model of one scale side by side."""
    style = results["settings"]["style"]
    main = results["outcome_models"][scale]
    moderation = results["outcome_models"][f"{scale}_moderation"]
    model_columns = tuple(fmt.header(key, style) for key in ("b_se", "ci", "beta", "t", "p"))
    header = ("Predictor", *model_columns, *model_columns)
    pairs = (("intercept", "intercept"), ("baseline", "baseline"), ("wai_w2", "wai_w2_c"),
             ("condition_embct", "condition_embct"), (None, "wai_w2_c_x_condition_embct"))
    rows = []
    for main_key, moderation_key in pairs:
        label = TERM_LABELS[moderation_key] + ("ᵃ" if moderation_key == "wai_w2_c" else "")
        rows.append(Row((label, *_outcome_cells(main["terms"].get(main_key), style),
                         *_outcome_cells(moderation["terms"][moderation_key], style))))
    for condition in CONDITIONS:
        slope = moderation["simple_slopes"][condition]
        rows.append(Row((f"Simple slope of early alliance, {condition}", "", "", "", "", "",
                         f"{fmt.number(slope['b'])} ({fmt.number(slope['se'])})",
                         fmt.ci_range(slope["ci_low"], slope["ci_high"], style=style), "",
                         fmt.number(slope["t"]), fmt.p_value(slope["p"], style))))
    rows.append(Row(("R² (adjusted R²)", _r2(main, style), "", "", "", "", _r2(moderation, style), "", "", "", "")))
    rows.append(Row(("n", fmt.integer(main["n"]), "", "", "", "", fmt.integer(moderation["n"]), "", "", "", "")))
    diagnostics = main["diagnostics"]
    diag = (f" Diagnostics of the main model: Breusch–Pagan {fmt.p_statement(diagnostics['breusch_pagan_p'], style)}; "
            f"{fmt.stat('max VIF', diagnostics['max_vif'], style=style)}." if diagnostics["max_vif"] is not None else "")
    footnote = (f"Ordinary least squares; outcome: post-treatment (T1) {outcome_label}, adjusted for the "
                "baseline score and condition. ᵃIn the moderation model early alliance is centred at its "
                "sample mean. Simple slopes: the association of early alliance with the outcome within "
                f"each condition. Main model: {_model_fit_note(main, style)} Moderation model: "
                f"{_model_fit_note(moderation, style)}{diag} B: unstandardized coefficient; SE: standard error; "
                f"β: standardized coefficient; t: B/SE{_residual_df(main, moderation)}. " + ABBREVIATIONS)
    return Table(f"{scale}_models", f"Early alliance and post-treatment {outcome_label}",
                 header, tuple(rows), footnote,
                 header_groups=(("", 1), ("Main model", 5), ("Moderation model", 5)))


def _residual_df(main: dict, moderation: dict) -> str:
    """", with 56 (main model) and 55 (moderation model) residual degrees of freedom"; "" when not fitted."""
    parts = [f"{model['df_resid']} ({which} model)" for model, which in ((main, "main"), (moderation, "moderation"))
             if model["df_resid"] is not None]
    return f", with {fmt.listing(parts)} residual degrees of freedom" if parts else ""


def _r2(model: dict, style: str) -> str:
    if model["r2"] is None:
        return fmt.MISSING
    return f"{fmt.bounded_number(model['r2'], 3, style)} ({fmt.bounded_number(model['adj_r2'], 3, style)})"


def reliability_table(results: dict) -> Table:
    alphas, counts, style = results["reliability"], results["reliability_n"], results["settings"]["style"]
    timepoint_labels = {**fmt.TIMEPOINT_LABELS, "baseline": "Baseline"}
    rows = tuple(
        Row((INSTRUMENT_LABELS[instrument], timepoint_labels[tp], fmt.bounded_number(alpha, 2, style),
             fmt.integer(counts[instrument][tp])))
        for instrument, by_timepoint in alphas.items() for tp, alpha in by_timepoint.items())
    footnote = ("Cronbach α of the total scale in the treated population, on forms with every item "
                "answered; baseline is each participant's own pre-treatment assessment. " + ABBREVIATIONS)
    return Table("reliability", "Internal consistency of the questionnaires",
                 ("Instrument", "Timepoint", "Cronbach α", "Complete forms"), rows, footnote, text_columns=2)


def build_tables(results: dict) -> dict[str, Table]:
    """Every table of the report, keyed by its role."""
    return {
        "table1": table1(results),
        "alliance_means": alliance_means_table(results),
        "manova": manova_table(results),
        "mixed": mixed_model_table(results),
        "dropout": dropout_model_table(results),
        **{scale: outcome_table(results, scale, fmt.OUTCOME_NAMES[scale]["table"]) for scale in OUTCOME_SCALES},
        "reliability": reliability_table(results),
    }


WITHHELD = "withheld in the open edition"  # a SHA-256 that depends on the arms


def provenance_table(results: dict) -> Table:
    provenance = results["provenance"]
    digests = [(name, "SHA-256", digest) for name, digest in provenance["input_files"].items()]
    previous = (results.get("changes") or {}).get("previous") or {}
    if previous.get("freeze_id"):
        digests.append((f"previous freeze {previous['freeze_id']}", "manifest SHA-256", previous["input_sha256"]))
    rows = [Row((item, kind, digest or WITHHELD)) for item, kind, digest in digests]
    rows.append(Row(("alliance-report", "version", f"{provenance['alliance_report']} ({provenance['git_commit']})")))
    rows.append(Row(("Python", "version", provenance["python"])))
    rows += [Row((name, "version", version)) for name, version in provenance["packages"].items()]
    withheld = " A SHA-256 that depends on the arms is withheld." if any(d is None for *_, d in digests) else ""
    return Table("provenance", "Provenance of this report", ("Item", "Kind", "Value"), tuple(rows),
                 f"Input hashes of the freeze files; manifest exported at {provenance['manifest_exported_at']}."
                 + withheld, text_columns=3)
