"""The study configuration (studies/<study>.toml): its checks, the usage error, and a simulation
that follows its visit schedule."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from alliance_report import DEMO_FREEZE, STUDIES_DIR
from alliance_report import study as study_module
from alliance_report.cli import main
from alliance_report.simulation import simulate_freeze
from alliance_report.study import StudyError, load_study


def test_the_bemind_study_file():
    study = load_study("BeMind")
    assert study.target_randomized == 245
    assert (study.recruitment_start, study.recruitment_end_planned) == (dt.date(2014, 1, 13), dt.date(2016, 3, 23))
    schedule = {tp: (v.anchor, v.offset_days, v.window_days) for tp, v in study.schedule.items()}
    assert schedule == {
        "T0": ("randomized_on", 0, 30), "T0b": ("rerandomized_on", 0, 30),
        "W2": ("treatment_start", 7, 30), "W5": ("treatment_start", 28, 30), "W9": ("treatment_start", 56, 30),
        "T1": ("treatment_start", 63, 30), "T2": ("T1", 91, 30), "T3": ("T1", 273, 30)}
    assert study.anchor_order().index("T1") < study.anchor_order().index("T2")


@pytest.fixture
def studies(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module, "STUDIES_DIR", tmp_path)
    text = (STUDIES_DIR / "BeMind.toml").read_text(encoding="utf-8")

    def write(name: str, old: str = "", new: str = "") -> None:
        assert old in text
        (tmp_path / f"{name}.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return write


@pytest.mark.parametrize("old, new, message", [
    ("target_randomized = 245", "", "missing key 'target_randomized'"),
    ("target_randomized = 245", "target_randomized = \"245\"", "target_randomized must be a whole number"),
    ("recruitment_start = 2014-01-13", "recruitment_start = \"2014-01-13\"", "recruitment_start must be a date"),
    ("recruitment_end_planned = 2016-03-23", "recruitment_end_planned = 2013-03-23", "before recruitment_start"),
    ('[schedule.T1]\nanchor = "treatment_start"', '[schedule.T1]\nanchor = "T2"', "the anchors form a cycle: T1 → T2 → T1"),
    ('anchor = "rerandomized_on"', 'anchor = "rerandomised_on"', "[schedule.T0b] anchor must be one of"),
    ("offset_days = 0\nwindow_days = 30", "offset_days = 0\nwindow_days = -1", "[schedule.T0] window_days must be at least 0"),
    ("[schedule.T3]", "[schedule.T4]", "unknown T4; missing T3"),
    ("title =", "title", "cannot be read"),
])
def test_a_broken_study_file_is_named_with_what_is_wrong(studies, old, new, message):
    studies("Broken", old, new)
    with pytest.raises(StudyError) as error:
        load_study("Broken")
    assert str(error.value).startswith("studies/Broken.toml: ")
    assert message in str(error.value)


def test_a_freeze_of_a_study_without_its_file_is_a_usage_error(tmp_path, capsys):
    freeze = tmp_path / "other"
    shutil.copytree(DEMO_FREEZE, freeze)
    manifest = json.loads((freeze / "manifest.json").read_text(encoding="utf-8"))
    manifest["study"] = "OtherTrial"
    (freeze / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "out"
    for argv in (["build", str(freeze), "--out", str(out), "--quiet"], ["validate", str(freeze)]):
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert "studies/OtherTrial.toml: no study configuration for study 'OtherTrial'" in error
        assert "Traceback" not in error
    assert not out.exists()


def reference_planned(freeze) -> pd.DataFrame:
    """Planned date per participant and timepoint, from the CSV files (BeMind's schedule)."""
    participants = pd.read_csv(freeze / "participants.csv", dtype=str, keep_default_na=False).set_index("participant_id")
    sessions = pd.read_csv(freeze / "sessions.csv", dtype=str, keep_default_na=False)
    first = pd.to_datetime(sessions[sessions["attended"] == "yes"].groupby("participant_id")["session_on"].min())
    randomized = pd.to_datetime(participants["randomized_on"])
    rerandomized = pd.to_datetime(participants["rerandomized_on"].replace("", None))
    started = rerandomized.where(participants["allocation"] == "TAU", randomized)
    start = first.reindex(participants.index).fillna(started + pd.Timedelta(days=14))
    days = lambda n: pd.Timedelta(days=n)  # noqa: E731
    t1 = start + days(63)
    return pd.DataFrame({"T0": randomized, "T0b": rerandomized, "W2": start + days(7), "W5": start + days(28),
                         "W9": start + days(56), "T1": t1, "T2": t1 + days(91), "T3": t1 + days(273)})


@pytest.mark.parametrize("cutoff", [None, "2015-09-01"])
def test_the_simulation_follows_the_visit_schedule(tmp_path, cutoff):
    freeze = DEMO_FREEZE if cutoff is None else simulate_freeze(tmp_path / "f", seed=11, cutoff_date=cutoff)
    planned = reference_planned(freeze).stack().rename("planned").reset_index()
    planned.columns = ["participant_id", "timepoint", "planned"]
    forms = pd.read_csv(freeze / "questionnaires.csv", dtype=str, keep_default_na=False)
    forms = forms.drop_duplicates(["participant_id", "timepoint", "instrument"])
    merged = forms.merge(planned, on=["participant_id", "timepoint"], how="left")
    assert merged["planned"].notna().all()
    delay = (pd.to_datetime(merged["completed_on"]) - merged["planned"]).dt.days
    # completed within the window after the planned date, or at most a week before it
    assert delay.between(-7, 30).all(), merged.loc[~delay.between(-7, 30)].head()
    assert set(merged["timepoint"]) == {"T0", "T0b", "W2", "W5", "W9", "T1", "T2", "T3"}
