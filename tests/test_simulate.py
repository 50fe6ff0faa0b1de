"""The simulated freeze: the committed demo freeze is the model's output, and every rule of
freeze-format.md holds on the demo, on a small freeze of another seed and on interim freezes."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.freeze import COLUMNS, read_freeze
from alliance_report.simulation import DEMO_CUTOFF, DEMO_SEED, simulate_freeze
from alliance_report.simulation.tables import csv_bytes

FILES = ("manifest.json", *COLUMNS)
TIMEPOINT_ORDER = ("T0", "T0b", "W2", "W5", "W9", "T1", "T2", "T3")
INSTRUMENT_RANGE = {"WAI": (12, 1, 5), "HADS": (14, 0, 3), "MHCSF": (14, 0, 5)}
INSTRUMENT_TIMEPOINTS = {"WAI": {"W2", "W5", "W9"}, "HADS": {"T0", "T0b", "T1", "T2", "T3"},
                         "MHCSF": {"T0", "T0b", "T1", "T2", "T3"}}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_freeze(folder: Path) -> dict[str, pd.DataFrame]:
    """Assert every rule of freeze-format.md (and the simulator's own promises); return the tables."""
    raw = {name: (folder / name).read_bytes() for name in FILES}
    for name, data in raw.items():
        assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf"), name
        data.decode("utf-8")
    manifest = json.loads(raw["manifest.json"])
    assert manifest["format_version"] == 1 and manifest["study"] == "BeMind"
    assert manifest["simulated"] is True
    assert manifest["source"].startswith("simulate (alliance-report ")
    assert set(manifest["files"]) == set(COLUMNS)
    for name in COLUMNS:
        assert manifest["files"][name] == hashlib.sha256(raw[name]).hexdigest(), name
    cutoff = pd.Timestamp(manifest["cutoff_date"])
    assert manifest["exported_at"] == f"{(cutoff + pd.Timedelta(days=1)).date()}T08:00:00Z"
    assert sorted(p.name for p in folder.glob("*.csv")) == sorted(COLUMNS)

    freeze = read_freeze(folder)
    t = freeze.tables
    for name, cols in COLUMNS.items():
        assert tuple(t[name].columns) == cols, name
        assert raw[name].split(b"\n", 1)[0].decode() == ",".join(cols)

    def dates(frame, column):
        values = frame[column].dropna()
        assert values.map(lambda v: bool(DATE.match(v))).all(), column
        parsed = pd.to_datetime(frame[column], format="%Y-%m-%d")
        assert (parsed.dropna() <= cutoff).all(), f"{column} after the cut-off"
        return parsed

    # ---------------------------------------------------------------- participants
    p = t["participants.csv"].copy()
    assert len(p) >= 1 and p["participant_id"].notna().all() and p["participant_id"].is_unique
    assert p["site"].notna().all()
    p["rand"] = dates(p, "randomized_on")
    p["rerand"] = dates(p, "rerandomized_on")
    assert p["allocation"].isin(["MBCT", "eMBCT", "TAU"]).all()
    first = p["allocation"] != "TAU"
    assert (p.loc[first, "treatment"] == p.loc[first, "allocation"]).all()
    assert p.loc[~first, "treatment"].map(lambda v: v in (None, "MBCT", "eMBCT")).all()
    assert (p["rerand"].notna() == (~first & p["treatment"].notna())).all()
    assert (p["rerand"].dropna() > p.loc[p["rerand"].notna(), "rand"]).all()
    age = p["age"].astype(int)
    assert age.between(18, 99).all() and (age.astype(str) == p["age"]).all()
    for column, allowed in (("sex", {"female", "male"}), ("partner", {"yes", "no"}), ("children", {"yes", "no"}),
                            ("education", {"low", "middle", "high"}), ("treatment_intent", {"curative", "palliative"}),
                            ("cancer_type", {"breast", "colorectal", "prostate", "lung", "gynaecological",
                                             "haematological", "melanoma", "other"})):
        assert p[column].isin(allowed).all(), column
    assert p["months_since_diagnosis"].str.fullmatch(r"\d+\.\d").all()
    p = p.set_index("participant_id")
    treated = p["treatment"].notna()

    # ---------------------------------------------------------------- screening
    s = t["screening.csv"].copy()
    assert len(s) >= 1 and s["screening_id"].notna().all() and s["screening_id"].is_unique
    assert s["site"].notna().all()
    s["on"] = dates(s, "screened_on")
    assert s["eligible"].isin(["yes", "no"]).all()
    linked = s["participant_id"].notna()
    assert (s["exclusion_reason"].isna() == linked).all()
    assert (s.loc[linked, "eligible"] == "yes").all()
    assert Counter(s.loc[linked, "participant_id"]) == Counter(p.index)       # each exactly once
    sl = s[linked].set_index("participant_id")
    assert (sl["on"] <= p.loc[sl.index, "rand"]).all()
    assert (sl["site"] == p.loc[sl.index, "site"]).all()

    # ---------------------------------------------------------------- sessions
    se = t["sessions.csv"].copy()
    assert se["participant_id"].isin(p.index[treated]).all()
    se["session"] = se["session"].astype(int)
    assert se["session"].between(1, 8).all()
    assert not se.duplicated(["participant_id", "session"]).any()
    assert se["attended"].isin(["yes", "no"]).all()
    se["on"] = dates(se, "session_on")
    assert (se["on"].notna() == (se["attended"] == "yes")).all()
    start = p["rerand"].fillna(p["rand"])
    assert (se["on"].dropna() >= start.loc[se.loc[se["on"].notna(), "participant_id"]].to_numpy()).all()
    # sessions are held in order and recorded as a prefix 1..k
    for pid, g in se.groupby("participant_id"):
        assert list(g["session"]) == list(range(1, len(g) + 1)), pid
        held = g["on"].dropna()
        assert held.is_monotonic_increasing, pid

    # ---------------------------------------------------------------- questionnaires
    q = t["questionnaires.csv"].copy()
    assert q["participant_id"].isin(p.index).all()
    assert q["timepoint"].isin(TIMEPOINT_ORDER).all() and q["instrument"].isin(INSTRUMENT_RANGE).all()
    assert q.apply(lambda r: r["timepoint"] in INSTRUMENT_TIMEPOINTS[r["instrument"]], axis=1).all()
    q["item"] = q["item"].astype(int)
    for inst, (n_items, low, high) in INSTRUMENT_RANGE.items():
        rows = q[q["instrument"] == inst]
        assert rows["item"].between(1, n_items).all()
        values = rows["value"].dropna().astype(int)
        assert values.between(low, high).all(), inst
    assert not q.duplicated(["participant_id", "timepoint", "instrument", "item"]).any()
    q["on"] = dates(q, "completed_on")
    assert q["on"].notna().all()
    form = q.groupby(["participant_id", "timepoint", "instrument"])["on"]
    assert (form.nunique() == 1).all()
    assert q.loc[q["instrument"] == "WAI", "participant_id"].isin(p.index[treated]).all()
    assert q.loc[q["timepoint"] == "T0b", "participant_id"].isin(p.index[p["rerand"].notna()]).all()
    # a missing row is rare, a form is otherwise complete: ≥ 8 rows per form
    assert (q.groupby(["participant_id", "timepoint", "instrument"]).size() >= 8).all()
    # file order: participant, timepoint, instrument, item
    key = pd.DataFrame({"pid": q["participant_id"], "tp": q["timepoint"].map(TIMEPOINT_ORDER.index),
                        "inst": q["instrument"].map(("WAI", "HADS", "MHCSF").index), "item": q["item"]})
    assert key.equals(key.sort_values(["pid", "tp", "inst", "item"]))
    # dates in the order of the design
    byp = q.groupby(["participant_id", "timepoint"])["on"].first().unstack("timepoint")
    byp = byp.reindex(columns=TIMEPOINT_ORDER).astype("datetime64[us]")
    assert (byp["T0"].dropna() <= p.loc[byp["T0"].dropna().index, "rand"]).all()
    t0b = byp["T0b"].dropna()
    assert ((t0b > p.loc[t0b.index, "rand"]) & (t0b <= p.loc[t0b.index, "rerand"])).all()
    later = ["W2", "W5", "W9", "T1", "T2", "T3"]
    for a_i, a in enumerate(later):
        ok = byp[a].dropna()
        assert (ok >= start.loc[ok.index]).all(), a
        for b in later[a_i + 1:]:
            both = byp[[a, b]].dropna()
            assert (both[a] < both[b]).all(), (a, b)

    # ---------------------------------------------------------------- disposition
    d = t["disposition.csv"].copy()
    assert d["participant_id"].isin(p.index).all() and d["participant_id"].is_unique
    assert d["event"].isin(["discontinued_treatment", "withdrew_from_study", "lost_to_follow_up"]).all()
    d["on"] = dates(d, "event_on")
    assert d["on"].notna().all()
    assert (d["on"].to_numpy() >= p.loc[d["participant_id"], "rand"].to_numpy()).all()
    needs_reason = d["event"].isin(["discontinued_treatment", "withdrew_from_study"])
    assert d.loc[needs_reason, "reason"].notna().all()
    for _, w in d[d["event"] == "withdrew_from_study"].iterrows():
        pid, on = w["participant_id"], w["on"]
        assert (q.loc[q["participant_id"] == pid, "on"] <= on).all(), pid
        assert (se.loc[se["participant_id"] == pid, "on"].dropna() <= on).all(), pid
    return {"participants": p, "screening": s, "sessions": se, "questionnaires": q, "disposition": d}


# ---------------------------------------------------------------------------- demo freeze


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return simulate_freeze(tmp_path_factory.mktemp("demo") / "freeze", seed=DEMO_SEED)


def test_committed_demo_freeze_is_the_model_output(demo):
    for name in FILES:
        assert (DEMO_FREEZE / name).read_bytes() == (demo / name).read_bytes(), (
            f"data/demo-freeze/{name} differs from simulate_freeze(seed=DEMO_SEED); "
            "regenerate with: .venv/bin/python -m alliance_report.simulation data/demo-freeze")
    assert sorted(p.name for p in DEMO_FREEZE.iterdir()) == sorted(FILES)


def test_demo_manifest(demo):
    manifest = json.loads((demo / "manifest.json").read_text())
    assert manifest["freeze_id"] == manifest["cutoff_date"] == DEMO_CUTOFF
    assert manifest["simulated"] is True
    assert manifest["source"].endswith(f"seed {DEMO_SEED}")
    for name in COLUMNS:
        assert manifest["files"][name] == hashlib.sha256((demo / name).read_bytes()).hexdigest()


def test_demo_counts_and_rules(demo):
    t = check_freeze(demo)
    p = t["participants"]
    assert len(p) == 245
    assert p["allocation"].value_counts().to_dict() == {"MBCT": 77, "eMBCT": 90, "TAU": 78}
    assert p.loc[p["allocation"] == "TAU", "treatment"].value_counts().to_dict() == {"MBCT": 43, "eMBCT": 35}
    assert p["treatment"].value_counts().to_dict() == {"MBCT": 120, "eMBCT": 125}
    table1 = {  # Table 1 of the paper, treated population: percentages to one decimal
        "sex": ("female", 84.2, 87.2), "partner": ("yes", 85.0, 80.0),
        "children": ("yes", 65.8, 72.0), "education": ("high", 70.8, 64.8),
    }
    for column, (level, mbct, embct) in table1.items():
        pct = p.groupby("treatment")[column].apply(lambda v: round(100 * (v == level).mean(), 1))
        assert (pct["MBCT"], pct["eMBCT"]) == (mbct, embct), column
    s = t["screening"]
    assert len(s) > 1.5 * len(p) and s["participant_id"].notna().sum() == 245
    reasons = set(s["exclusion_reason"].dropna())
    assert {"HADS total below 11", "declined to participate", "not meeting inclusion criteria",
            "no time / travel distance"} <= reasons
    # complete freeze: every treated participant's treatment has ended, nobody left untreated
    se, d = t["sessions"], t["disposition"]
    rows = se.groupby("participant_id").size().reindex(p.index, fill_value=0)
    ended = (rows == 8) | p.index.isin(d["participant_id"])
    assert ended.all()
    assert set(d["event"]) == {"discontinued_treatment", "withdrew_from_study", "lost_to_follow_up"}
    q = t["questionnaires"]
    assert q["value"].isna().any()                              # skipped items exist
    assert set(q["timepoint"]) == set(TIMEPOINT_ORDER)


def test_deterministic_and_seed_dependent(tmp_path, demo):
    again = simulate_freeze(tmp_path / "again", seed=DEMO_SEED)
    other = simulate_freeze(tmp_path / "other", seed=DEMO_SEED + 1)
    for name in COLUMNS:
        assert (again / name).read_bytes() == (demo / name).read_bytes()
    assert (other / "questionnaires.csv").read_bytes() != (demo / "questionnaires.csv").read_bytes()


# ---------------------------------------------------------------------------- other sizes and cut-offs


def test_small_freeze_of_another_seed(tmp_path):
    out = simulate_freeze(tmp_path / "small", seed=7, n_randomized=60, n_screened=90, freeze_id="small-7")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["freeze_id"] == "small-7" and manifest["source"].endswith("seed 7")
    t = check_freeze(out)
    p = t["participants"]
    assert len(p) == 60 and len(t["screening"]) == 90
    # the trial's proportions, rounded: 60 × (77, 90, 78) / 245 and 19 TAU × (43, 35) / 78
    assert p["allocation"].value_counts().to_dict() == {"MBCT": 19, "eMBCT": 22, "TAU": 19}
    assert p.loc[p["allocation"] == "TAU", "treatment"].value_counts().to_dict() == {"MBCT": 10, "eMBCT": 9}


def test_interim_freeze(tmp_path, demo):
    cutoff = "2015-03-01"
    out = simulate_freeze(tmp_path / "interim", seed=DEMO_SEED, cutoff_date=cutoff)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["freeze_id"] == manifest["cutoff_date"] == cutoff
    assert manifest["exported_at"] == "2015-03-02T08:00:00Z"
    t = check_freeze(out)                                        # includes: no date after the cut-off
    p, se, d = t["participants"], t["sessions"], t["disposition"]
    assert 0 < len(p) < 245
    assert ((p["allocation"] == "TAU") & p["treatment"].isna()).any()   # waiting, not yet re-randomized
    rows = se.groupby("participant_id").size().reindex(p.index, fill_value=0)
    treated = p["treatment"].notna()
    in_treatment = treated & (rows < 8) & ~p.index.isin(d["participant_id"])
    assert in_treatment.sum() >= 5
    assert (treated & (rows == 0)).any()                         # treatment not started yet
    # the same trial as the final freeze, seen earlier: every interim row is in the demo freeze
    final = read_freeze(demo).tables
    for name in ("questionnaires.csv", "screening.csv"):
        interim_rows = set(map(tuple, read_freeze(out).tables[name].fillna("").to_numpy()))
        final_rows = set(map(tuple, final[name].fillna("").to_numpy()))
        if name == "screening.csv":  # screening ids are numbered within the freeze
            interim_rows = {r[1:] for r in interim_rows}
            final_rows = {r[1:] for r in final_rows}
        assert interim_rows <= final_rows, name


@pytest.mark.parametrize("cutoff", ["2014-02-15", "2016-09-30"])
def test_other_cutoffs_are_valid(tmp_path, cutoff):
    check_freeze(simulate_freeze(tmp_path / cutoff, seed=11, n_randomized=120, cutoff_date=cutoff))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "a", n_randomized=100, n_screened=50)
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "b", cutoff_date="2013-01-01")    # nobody randomized yet
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        simulate_freeze(tmp_path / "b", cutoff_date="1 March 2018")
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "b", seed=None)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "extra.csv").write_text("x\n")
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "c", n_randomized=30)


def test_csv_writer_quotes_when_needed():
    plain = csv_bytes({"participant_id": ["P1"], "event": ["lost_to_follow_up"], "event_on": ["2015-01-01"],
                        "reason": [""]}, "disposition.csv")
    assert plain == b"participant_id,event,event_on,reason\nP1,lost_to_follow_up,2015-01-01,\n"
    quoted = csv_bytes({"participant_id": ["P1"], "event": ["withdrew_from_study"], "event_on": ["2015-01-01"],
                         "reason": ['moved, "abroad"']}, "disposition.csv")
    assert quoted.endswith(b'P1,withdrew_from_study,2015-01-01,"moved, ""abroad"""\n')
