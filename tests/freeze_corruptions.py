"""Write a tiny valid freeze, and corrupted copies of a freeze, one way each.

``write_tiny_freeze(folder)`` writes a small, consistent freeze (format v1) by hand: 12 screened,
9 randomized (3 MBCT, 3 eMBCT, 3 TAU of whom 2 re-randomized), sessions, questionnaires and
disposition, with a manifest holding the SHA-256 of every CSV.

``corrupt(src, dst, name)`` copies the freeze ``src`` to ``dst`` and applies the corruption
``name`` (a function of this module registered in ``CORRUPTIONS``).  Unless the corruption is
about the manifest or the checksums, the manifest's SHA-256 entries are recomputed, so that
exactly one rule is broken.  The corruptions look rows up by content (e.g. "the first MBCT
participant"), so they also work on other valid freezes such as the demo freeze.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Callable

FILES = ("screening.csv", "participants.csv", "sessions.csv", "questionnaires.csv", "disposition.csv")
CUTOFF = "2026-11-01"

# ----------------------------------------------------------------------------------------------
# CSV helpers (rows as lists of str, first row = header)


def read_rows(folder: Path, file: str) -> list[list[str]]:
    with open(Path(folder) / file, encoding="utf-8-sig", newline="") as fh:
        return [row for row in csv.reader(fh)]


def write_rows(folder: Path, file: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (Path(folder) / file).write_text(buffer.getvalue(), encoding="utf-8")


def records(folder: Path, file: str) -> list[dict[str, str]]:
    rows = read_rows(folder, file)
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def write_records(folder: Path, file: str, header: list[str], recs: list[dict[str, str]]) -> None:
    write_rows(folder, file, [header] + [[r.get(c, "") for c in header] for r in recs])


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_manifest(folder: Path, **overrides) -> None:
    folder = Path(folder)
    manifest = {
        "format_version": 1, "study": "BeMind", "freeze_id": "2026-11-01", "cutoff_date": CUTOFF,
        "exported_at": "2026-11-02T08:15:00Z", "source": "EDC export", "simulated": True,
        "files": {f: sha256_file(folder / f) for f in FILES},
    }
    manifest.update(overrides)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def refresh_manifest(folder: Path) -> None:
    """Recompute the SHA-256 entries of the manifest (keeping everything else)."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8-sig"))
    manifest["files"] = {name: sha256_file(folder / name) if (folder / name).is_file() else sha
                         for name, sha in manifest["files"].items()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def edit_manifest(folder: Path, change: Callable[[dict], None]) -> None:
    path = Path(folder) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8-sig"))
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def day(text: str, plus: int = 0) -> str:
    return (dt.date.fromisoformat(text) + dt.timedelta(days=plus)).isoformat()


# ----------------------------------------------------------------------------------------------
# the tiny valid freeze

_INSTRUMENTS = {"WAI": (12, 1, 5), "HADS": (14, 0, 3), "MHCSF": (14, 0, 5)}


def write_tiny_freeze(folder: str | Path) -> Path:
    """Write a small valid freeze into ``folder`` (created) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # (participant, allocation, treatment, randomized_on, rerandomized_on, event, event_on, reason)
    people = [
        ("P001", "MBCT", "MBCT", "2025-02-03", "", "", "", ""),
        ("P002", "MBCT", "MBCT", "2025-02-04", "", "", "", ""),
        ("P003", "MBCT", "MBCT", "2025-02-05", "", "discontinued_treatment", "2025-03-20", "too tiring"),
        ("P004", "eMBCT", "eMBCT", "2025-02-06", "", "", "", ""),
        ("P005", "eMBCT", "eMBCT", "2025-02-07", "", "lost_to_follow_up", "2025-09-01", ""),
        ("P006", "eMBCT", "eMBCT", "2025-02-10", "", "", "", ""),
        ("P007", "TAU", "MBCT", "2025-02-11", "2025-04-08", "", "", ""),
        ("P008", "TAU", "eMBCT", "2025-02-12", "2025-04-09", "", "", ""),
        ("P009", "TAU", "", "2025-02-13", "", "withdrew_from_study", "2025-03-15", "moved abroad"),
    ]
    sites = ["Nijmegen", "Groningen", "Amsterdam"]
    cancer = ["breast", "colorectal", "prostate", "lung", "gynaecological", "haematological", "melanoma", "other", "breast"]
    screening = []
    participants = []
    sessions = []
    questionnaires = []
    disposition = []
    for i, (pid, alloc, treat, rand, rerand, event, event_on, reason) in enumerate(people):
        site = sites[i % 3]
        screening.append({"screening_id": f"S{i + 1:03d}", "site": site, "screened_on": day(rand, -14),
                          "eligible": "yes", "exclusion_reason": "", "participant_id": pid})
        participants.append({
            "participant_id": pid, "site": site, "randomized_on": rand, "allocation": alloc, "treatment": treat,
            "rerandomized_on": rerand, "age": str(40 + 3 * i), "sex": "female" if i % 2 == 0 else "male",
            "partner": "yes" if i % 3 else "no", "children": "no" if i % 4 else "yes",
            "education": ["low", "middle", "high"][i % 3], "cancer_type": cancer[i],
            "treatment_intent": "palliative" if i == 4 else "curative",
            "months_since_diagnosis": ["14", "3.5", "120", "0", "27", "8.25", "60", "31", "2"][i],
        })
        if event:
            disposition.append({"participant_id": pid, "event": event, "event_on": event_on, "reason": reason})

        def form(timepoint: str, instrument: str, on: str, skip: tuple[int, ...] = ()) -> None:
            n, low, high = _INSTRUMENTS[instrument]
            for item in range(1, n + 1):
                value = "" if item in skip else str(low + (item + i) % (high - low + 1))
                questionnaires.append({"participant_id": pid, "timepoint": timepoint, "instrument": instrument,
                                       "item": str(item), "value": value, "completed_on": on})

        form("T0", "HADS", day(rand, -3), skip=(5,) if i == 1 else ())
        form("T0", "MHCSF", day(rand, -3))
        if not treat:  # TAU, never re-randomized (withdrew before the end of the waiting period)
            continue
        if rerand:
            form("T0b", "HADS", rerand)
            form("T0b", "MHCSF", rerand)
        start = day(rerand or rand, 7)
        last_session = 4 if event == "discontinued_treatment" else 8
        for session in range(1, 9):
            attended = "yes" if session <= last_session and not (session == 3 and i == 1) else "no"
            on = day(start, 7 * (session - 1)) if session <= last_session else ""
            sessions.append({"participant_id": pid, "session": str(session), "attended": attended, "session_on": on})
        form("W2", "WAI", day(start, 7), skip=(4, 9) if i == 3 else ())
        form("W5", "WAI", day(start, 28))
        if event != "discontinued_treatment":
            form("W9", "WAI", day(start, 56))
        form("T1", "HADS", day(start, 60))
        form("T1", "MHCSF", day(start, 60))
        if event != "lost_to_follow_up":
            form("T2", "HADS", day(start, 150))
            form("T2", "MHCSF", day(start, 150))
            form("T3", "HADS", day(start, 335))
            form("T3", "MHCSF", day(start, 335))
    screening += [
        {"screening_id": "S010", "site": "Nijmegen", "screened_on": "2025-01-20", "eligible": "no",
         "exclusion_reason": "no cancer diagnosis", "participant_id": ""},
        {"screening_id": "S011", "site": "Groningen", "screened_on": "2025-01-21", "eligible": "yes",
         "exclusion_reason": "declined to participate, no time", "participant_id": ""},
        {"screening_id": "S012", "site": "Amsterdam", "screened_on": "2025-01-22", "eligible": "no",
         "exclusion_reason": "severe psychiatric disorder", "participant_id": ""},
    ]
    for file, recs in (("screening.csv", screening), ("participants.csv", participants), ("sessions.csv", sessions),
                       ("questionnaires.csv", questionnaires), ("disposition.csv", disposition)):
        write_records(folder, file, list(_HEADERS[file]), recs)
    write_manifest(folder)
    return folder


_HEADERS = {
    "screening.csv": ("screening_id", "site", "screened_on", "eligible", "exclusion_reason", "participant_id"),
    "participants.csv": ("participant_id", "site", "randomized_on", "allocation", "treatment", "rerandomized_on", "age",
                         "sex", "partner", "children", "education", "cancer_type", "treatment_intent",
                         "months_since_diagnosis"),
    "sessions.csv": ("participant_id", "session", "attended", "session_on"),
    "questionnaires.csv": ("participant_id", "timepoint", "instrument", "item", "value", "completed_on"),
    "disposition.csv": ("participant_id", "event", "event_on", "reason"),
}

# ----------------------------------------------------------------------------------------------
# corruptions

CORRUPTIONS: dict[str, Callable[[Path], None]] = {}
MANIFEST_CORRUPTIONS: set[str] = set()  # these keep the manifest as they leave it


def corruption(*, manifest: bool = False):
    def register(fn):
        CORRUPTIONS[fn.__name__] = fn
        if manifest:
            MANIFEST_CORRUPTIONS.add(fn.__name__)
        return fn
    return register


def corrupt(src: str | Path, dst: str | Path, name: str) -> Path:
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    CORRUPTIONS[name](dst)
    if name not in MANIFEST_CORRUPTIONS:
        refresh_manifest(dst)
    return dst


class _Table:
    """Edit one CSV as records: ``with _Table(folder, file) as t: t.recs[...]``."""

    def __init__(self, folder: Path, file: str):
        self.folder, self.file = folder, file
        rows = read_rows(folder, file)
        self.header = rows[0]
        self.recs = [dict(zip(rows[0], row)) for row in rows[1:]]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            write_records(self.folder, self.file, self.header, self.recs)

    def first(self, **where) -> dict[str, str]:
        return next(r for r in self.recs if all(r[k] == v for k, v in where.items()))


def _participants(folder: Path) -> list[dict[str, str]]:
    return records(folder, "participants.csv")


def _untreated(folder: Path) -> dict[str, str]:
    return next(p for p in _participants(folder) if p["treatment"] == "")


def _mbct(folder: Path) -> dict[str, str]:
    return next(p for p in _participants(folder) if p["allocation"] == "MBCT")


def _rerandomized(folder: Path) -> dict[str, str]:
    return next(p for p in _participants(folder) if p["allocation"] == "TAU" and p["treatment"])


# One cell changed: (name, file, the first data row matching ``where`` — a dict of cells or a
# predicate —, column, new value or a function of the freeze folder giving it).
ONE_CELL = (
    ("bad_date", "screening.csv", {}, "screened_on", "2016-13-45"),
    ("exclusion_reason_when_randomized", "screening.csv", lambda r: r["participant_id"], "exclusion_reason",
     "declined"),
    ("missing_exclusion_reason", "screening.csv", lambda r: not r["participant_id"], "exclusion_reason", ""),
    ("randomized_not_eligible", "screening.csv", lambda r: r["participant_id"], "eligible", "no"),
    ("bad_category", "participants.csv", {"sex": "female"}, "sex", "Female"),
    ("age_17", "participants.csv", {}, "age", "17"),
    ("age_not_a_number", "participants.csv", {}, "age", "abc"),
    ("blank_site", "participants.csv", {}, "site", "   "),
    ("months_negative", "participants.csv", {}, "months_since_diagnosis", "-1"),
    ("months_decimal_comma", "participants.csv", {}, "months_since_diagnosis", "3,5"),
    # digits beyond what a number can hold: 10^5000 is past Python's int-from-text limit (4,300
    # digits), 10^400 past a float's range (it would read as infinity)
    ("age_too_many_digits", "participants.csv", {}, "age", "1" + "0" * 5000),
    ("months_too_many_digits", "participants.csv", {}, "months_since_diagnosis", "9" * 400),
    ("randomized_after_cutoff", "participants.csv", {}, "randomized_on", lambda folder: day(CUTOFF_OF(folder), 1)),
    ("session_after_cutoff", "sessions.csv", lambda r: r["session_on"], "session_on",
     lambda folder: day(CUTOFF_OF(folder), 1)),
    ("session_out_of_range", "sessions.csv", {"session": "8"}, "session", "9"),
    ("attended_without_date", "sessions.csv", {"attended": "yes"}, "session_on", ""),
    ("item_out_of_range", "questionnaires.csv", {"instrument": "WAI", "item": "12"}, "item", "13"),
    ("value_out_of_range", "questionnaires.csv", {"instrument": "HADS"}, "value", "4"),
    ("instrument_at_wrong_timepoint", "questionnaires.csv", {"instrument": "HADS", "timepoint": "T0"}, "instrument",
     "WAI"),
    ("disposition_reason_missing", "disposition.csv",
     lambda r: r["event"] in ("withdrew_from_study", "discontinued_treatment"), "reason", ""),
    ("bad_event", "disposition.csv", {"event": "lost_to_follow_up"}, "event", "lost to follow-up"),
)

# The first data row written twice: (name, file).
FIRST_ROW_TWICE = (
    ("duplicate_participant_id", "participants.csv"),
    ("duplicate_session", "sessions.csv"),
    ("duplicate_item", "questionnaires.csv"),
)


# The first data row written again with its number zero-padded ("01" for 1): the same session or
# item to the reader, another string to a check that compares the text.  (name, file, column)
PADDED_TWICE = (
    ("duplicate_session_zero_padded", "sessions.csv", "session"),
    ("duplicate_item_zero_padded", "questionnaires.csv", "item"),
)


def _one_cell(name: str, file: str, where, column: str, value) -> None:
    def change(folder):
        matches = where if callable(where) else (lambda r: all(r[k] == v for k, v in where.items()))
        with _Table(folder, file) as t:
            next(r for r in t.recs if matches(r))[column] = value(folder) if callable(value) else value
    change.__name__ = name
    corruption()(change)


def _first_row_twice(name: str, file: str) -> None:
    def change(folder):
        with _Table(folder, file) as t:
            t.recs.append(dict(t.recs[0]))
    change.__name__ = name
    corruption()(change)


def _padded_twice(name: str, file: str, column: str) -> None:
    def change(folder):
        with _Table(folder, file) as t:
            t.recs.append(dict(t.recs[0], **{column: "0" + t.recs[0][column]}))
    change.__name__ = name
    corruption()(change)


for _case in ONE_CELL:
    _one_cell(*_case)
for _case in FIRST_ROW_TWICE:
    _first_row_twice(*_case)
for _case in PADDED_TWICE:
    _padded_twice(*_case)


# --- screening.csv


@corruption()
def duplicate_screening_id(folder):
    with _Table(folder, "screening.csv") as t:
        t.recs[1]["screening_id"] = t.recs[0]["screening_id"]


@corruption()
def screening_unknown_participant(folder):
    with _Table(folder, "screening.csv") as t:
        r = next(r for r in t.recs if not r["participant_id"])
        r["participant_id"], r["exclusion_reason"], r["eligible"] = "P_UNKNOWN", "", "yes"


@corruption()
def participant_without_screening(folder):
    with _Table(folder, "screening.csv") as t:
        r = next(r for r in t.recs if r["participant_id"])
        r["participant_id"], r["exclusion_reason"] = "", "declined to participate"


@corruption()
def participant_screened_twice(folder):
    with _Table(folder, "screening.csv") as t:
        r = next(r for r in t.recs if r["participant_id"])
        t.recs.append(dict(r, screening_id=r["screening_id"] + "-2"))


# --- participants.csv


@corruption()
def randomized_before_screening(folder):
    screened = {r["participant_id"]: r["screened_on"] for r in records(folder, "screening.csv")}
    with _Table(folder, "participants.csv") as t:
        r = t.recs[0]
        r["randomized_on"] = day(screened[r["participant_id"]], -1)


@corruption()
def treatment_differs_from_allocation(folder):
    pid = _mbct(folder)["participant_id"]
    with _Table(folder, "participants.csv") as t:
        t.first(participant_id=pid)["treatment"] = "eMBCT"


@corruption()
def rerandomized_on_before_randomized_on(folder):
    pid = _rerandomized(folder)["participant_id"]
    with _Table(folder, "participants.csv") as t:
        r = t.first(participant_id=pid)
        r["rerandomized_on"] = day(r["randomized_on"], -1)


@corruption()
def rerandomized_on_missing(folder):
    pid = _rerandomized(folder)["participant_id"]
    with _Table(folder, "participants.csv") as t:
        t.first(participant_id=pid)["rerandomized_on"] = ""


@corruption()
def rerandomized_on_for_mbct(folder):
    pid = _mbct(folder)["participant_id"]
    with _Table(folder, "participants.csv") as t:
        r = t.first(participant_id=pid)
        r["rerandomized_on"] = day(r["randomized_on"], 30)


@corruption()
def header_only_participants(folder):
    with _Table(folder, "participants.csv") as t:
        t.recs = []


@corruption()
def missing_column(folder):
    with _Table(folder, "participants.csv") as t:
        t.header.remove("age")


def _rename_column(folder: Path, file: str, old: str, new: str) -> None:
    """Rename a header field; the cells stay as they are."""
    rows = read_rows(folder, file)
    rows[0][rows[0].index(old)] = new
    write_rows(folder, file, rows)


@corruption()
def renamed_column(folder):
    """A column renamed by hand: every check needing randomized_on (in any file) cannot run."""
    _rename_column(folder, "participants.csv", "randomized_on", "randomisation_date")


@corruption()
def padded_header(folder):
    """A header name with a trailing space, invisible in a spreadsheet."""
    _rename_column(folder, "participants.csv", "participant_id", "participant_id ")


@corruption()
def columns_reordered(folder):
    with _Table(folder, "participants.csv") as t:
        t.header[6], t.header[7] = t.header[7], t.header[6]


# --- sessions.csv


@corruption()
def extra_column(folder):
    with _Table(folder, "sessions.csv") as t:
        t.header.append("notes")


@corruption()
def trailing_comma(folder):
    """Every line of sessions.csv ends in a comma: a last column without a name, as some exports write."""
    with _Table(folder, "sessions.csv") as t:
        t.header.append("")


@corruption()
def session_for_untreated(folder):
    p = _untreated(folder)
    with _Table(folder, "sessions.csv") as t:
        t.recs.append({"participant_id": p["participant_id"], "session": "1", "attended": "no", "session_on": ""})


@corruption()
def session_after_withdrawal(folder):
    with _Table(folder, "disposition.csv") as d, _Table(folder, "sessions.csv") as s:
        dated = [r for r in s.recs if r["session_on"]]
        last = max(dated, key=lambda r: r["session_on"])
        pid = last["participant_id"]
        dates = [r["session_on"] for r in dated if r["participant_id"] == pid]
        randomized = next(p for p in _participants(folder) if p["participant_id"] == pid)["randomized_on"]
        when = max(randomized, day(max(dates), -1))
        d.recs = [r for r in d.recs if r["participant_id"] != pid]
        d.recs.append({"participant_id": pid, "event": "withdrew_from_study", "event_on": when, "reason": "moved"})
    # questionnaires after that date would fail too: drop them so only the session rule breaks
    with _Table(folder, "questionnaires.csv") as q:
        q.recs = [r for r in q.recs if not (r["participant_id"] == pid and r["completed_on"] > when)]


# --- questionnaires.csv


@corruption()
def unknown_participant(folder):
    with _Table(folder, "questionnaires.csv") as t:
        for r in t.recs[:14]:
            r["participant_id"] = "P_UNKNOWN"


@corruption()
def t0b_not_rerandomized(folder):
    pid = _mbct(folder)["participant_id"]
    with _Table(folder, "questionnaires.csv") as t:
        t0 = [r for r in t.recs if r["participant_id"] == pid and r["timepoint"] == "T0"]
        t.recs += [dict(r, timepoint="T0b") for r in t0]


@corruption()
def wai_for_untreated(folder):
    p = _untreated(folder)
    with _Table(folder, "questionnaires.csv") as t:
        on = next(r for r in t.recs if r["participant_id"] == p["participant_id"])["completed_on"]
        t.recs += [{"participant_id": p["participant_id"], "timepoint": "W2", "instrument": "WAI", "item": str(i),
                    "value": "3", "completed_on": on} for i in range(1, 13)]


@corruption()
def questionnaire_after_withdrawal(folder):
    with _Table(folder, "disposition.csv") as d:
        w = next(r for r in d.recs if r["event"] == "withdrew_from_study")
    with _Table(folder, "questionnaires.csv") as t:
        t0 = [r for r in t.recs if r["participant_id"] == w["participant_id"] and r["timepoint"] == "T0"
              and r["instrument"] == "HADS"]
        t.recs += [dict(r, timepoint="T1", completed_on=day(w["event_on"], 1)) for r in t0]


@corruption()
def two_completed_on(folder):
    with _Table(folder, "questionnaires.csv") as t:
        t.recs[1]["completed_on"] = day(t.recs[1]["completed_on"], -1)


@corruption()
def bad_timepoint(folder):
    with _Table(folder, "questionnaires.csv") as t:
        form = [r for r in t.recs if (r["participant_id"], r["timepoint"], r["instrument"])
                == (t.recs[0]["participant_id"], "T0", "HADS")]
        for r in form:
            r["timepoint"] = "t0"


# --- disposition.csv


@corruption()
def event_before_randomization(folder):
    randomized = {p["participant_id"]: p["randomized_on"] for p in _participants(folder)}
    with _Table(folder, "disposition.csv") as t:
        r = next(r for r in t.recs if r["event"] == "lost_to_follow_up")
        r["event_on"] = day(randomized[r["participant_id"]], -1)


@corruption()
def duplicate_disposition(folder):
    with _Table(folder, "disposition.csv") as t:
        t.recs.append(dict(t.first(event="lost_to_follow_up")))


# --- manifest and folder


@corruption(manifest=True)
def sha_mismatch(folder):
    """Same content, different bytes (CRLF line endings): only the checksum changes."""
    path = Path(folder) / "sessions.csv"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@corruption(manifest=True)
def unlisted_csv(folder):
    (Path(folder) / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")


@corruption(manifest=True)
def manifest_format_version_2(folder):
    edit_manifest(folder, lambda m: m.update(format_version=2))


@corruption(manifest=True)
def manifest_file_not_listed(folder):
    edit_manifest(folder, lambda m: m["files"].pop("disposition.csv"))


@corruption(manifest=True)
def manifest_unknown_file(folder):
    edit_manifest(folder, lambda m: m["files"].update({"notes.csv": "0" * 64}))


@corruption(manifest=True)
def manifest_simulated_text(folder):
    edit_manifest(folder, lambda m: m.update(simulated="true"))


@corruption(manifest=True)
def manifest_bad_cutoff(folder):
    edit_manifest(folder, lambda m: m.update(cutoff_date="2026-02-30"))


@corruption(manifest=True)
def manifest_missing_key(folder):
    edit_manifest(folder, lambda m: m.pop("exported_at"))


@corruption(manifest=True)
def manifest_unsafe_freeze_id(folder):
    edit_manifest(folder, lambda m: m.update(freeze_id="../../etc"))


def CUTOFF_OF(folder) -> str:  # noqa: N802 - reads like a constant at the call sites
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8-sig"))["cutoff_date"]


# ----------------------------------------------------------------------------------------------
# unreadable input (read_freeze must raise FreezeError naming the file)

UNREADABLE: dict[str, tuple[Callable[[Path], None], str]] = {}


def unreadable(file: str):
    def register(fn):
        UNREADABLE[fn.__name__] = (fn, file)
        return fn
    return register


@unreadable("sessions.csv")
def zero_byte_file(folder):
    (Path(folder) / "sessions.csv").write_bytes(b"")


@unreadable("questionnaires.csv")
def semicolon_delimited(folder):
    path = Path(folder) / "questionnaires.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")


@unreadable("screening.csv")
def latin1_file(folder):
    with _Table(folder, "screening.csv") as t:
        t.recs[-1]["exclusion_reason"] = "refusé"
    path = Path(folder) / "screening.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))


@unreadable("manifest.json")
def manifest_not_json(folder):
    (Path(folder) / "manifest.json").write_text("format_version: 1\n", encoding="utf-8")


@unreadable("manifest.json")
def manifest_missing(folder):
    (Path(folder) / "manifest.json").unlink()


@unreadable("disposition.csv")
def csv_missing(folder):
    (Path(folder) / "disposition.csv").unlink()


@unreadable("sessions.csv")
def short_row(folder):
    path = Path(folder) / "sessions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = ",".join(lines[2].split(",")[:2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@unreadable("sessions.csv")
def long_row(folder):
    path = Path(folder) / "sessions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@unreadable("sessions.csv")
def blank_line_inside(folder):
    path = Path(folder) / "sessions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@unreadable("sessions.csv")
def tab_delimited(folder):
    path = Path(folder) / "sessions.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", "\t"), encoding="utf-8")


@unreadable("participants.csv")
def utf16_file(folder):
    path = Path(folder) / "participants.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def make_unreadable(src: str | Path, dst: str | Path, name: str) -> tuple[Path, str]:
    """Copy ``src`` to ``dst``, break it with ``name``; return the folder and the file to be named."""
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    fn, file = UNREADABLE[name]
    fn(dst)
    if file != "manifest.json" and (dst / "manifest.json").exists():
        refresh_manifest(dst)
    return dst, file


# ----------------------------------------------------------------------------------------------
# accepted variants (must stay valid)


def with_bom_and_crlf(src: str | Path, dst: str | Path) -> Path:
    """Every CSV and the manifest re-encoded with a UTF-8 byte-order mark and CRLF line endings."""
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for file in FILES:
        path = dst / file
        text = path.read_text(encoding="utf-8")
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    refresh_manifest(dst)
    path = dst / "manifest.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-8"))
    return dst


# ----------------------------------------------------------------------------------------------
# hand edits of a full-size freeze (the demo freeze), as a data manager would make them
#
# ``HAND_EDITS`` holds edits that need a realistic freeze (every column filled, hundreds of rows) or
# mimic a tool (a spreadsheet re-saving dates, Windows copying a file).  They are kept out of
# ``CORRUPTIONS`` and ``UNREADABLE``, whose every entry is a case of tests/test_validation.py.
# ``break_copy(src, dst, name)`` applies any registered edit: a hand edit, a corruption or an
# unreadable input.

HAND_EDITS: dict[str, Callable[[Path], None]] = {}
NOT_RESIGNED: set[str] = set()  # hand edits after which the manifest stays as the edit left it


def hand_edit(*, resign: bool = True):
    def register(fn):
        HAND_EDITS[fn.__name__] = fn
        if not resign:
            NOT_RESIGNED.add(fn.__name__)
        return fn
    return register


@hand_edit()
def spreadsheet_dates(folder):
    """screening.csv opened in a spreadsheet and saved again: every screened_on becomes DD/MM/YYYY."""
    with _Table(folder, "screening.csv") as t:
        for r in t.recs:
            y, m, d = r["screened_on"].split("-")
            r["screened_on"] = f"{d}/{m}/{y}"


@hand_edit(resign=False)
def edited_after_freeze(folder):
    """One participant's age corrected by hand (to a valid age) without re-exporting the freeze."""
    with _Table(folder, "participants.csv") as t:
        t.recs[0]["age"] = str(int(t.recs[0]["age"]) + 1)


@hand_edit(resign=False)
def backup_copy_csv(folder):
    """A copy of a file left in the freeze folder (as Windows names it)."""
    shutil.copyfile(Path(folder) / "participants.csv", Path(folder) / "participants - Copy.csv")


@hand_edit(resign=False)
def manifest_trailing_comma(folder):
    """manifest.json edited by hand: the last entry of ``files`` removed, its comma left behind."""
    path = Path(folder) / "manifest.json"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    last = max(i for i, line in enumerate(lines) if line.strip().startswith('"disposition.csv"'))
    lines[last - 1] = lines[last - 1].rstrip().rstrip(",") + ","
    del lines[last]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@hand_edit()
def header_only_screening(folder):
    """screening.csv truncated to its header row (screening.csv needs at least one row)."""
    with _Table(folder, "screening.csv") as t:
        t.recs = []


def break_copy(src: str | Path, dst: str | Path, name: str) -> Path:
    """Copy ``src`` to ``dst`` and apply the hand edit, corruption or unreadable input ``name``.

    The manifest's SHA-256 entries are recomputed afterwards unless the edit is about the
    manifest or the checksums (so that the rule itself is what fails)."""
    if name in CORRUPTIONS:
        return corrupt(src, dst, name)
    if name in UNREADABLE:
        return make_unreadable(src, dst, name)[0]
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    HAND_EDITS[name](dst)
    if name not in NOT_RESIGNED:
        refresh_manifest(dst)
    return dst
