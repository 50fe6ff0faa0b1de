"""Trial conduct in the simulation: session attendance, disposition events (discontinued,
withdrew, lost to follow-up) and the screened persons, excluded ones included.

Stopping treatment is drawn, dropout (< 4 sessions attended) is not: it follows from stopping
and from single missed sessions.  Every draw is made for every participant, in a fixed order
(see :mod:`.model`).
"""

from __future__ import annotations

import numpy as np

from alliance_report.design import CONDITIONS, FOLLOW_UPS, N_SESSIONS
from alliance_report.simulation.parameters import (DISCONTINUATION_P, DISCONTINUED, EXCLUSIONS, LOST, PARAMS,
                                                   SITE_P, SITES, WITHDRAWAL_REASONS, WITHDREW)

NEVER_STOPPED = N_SESSIONS + 1      # stop_session of a participant who never stops treatment


def attendance(rng: np.random.Generator, treatment: np.ndarray, alliance_z: np.ndarray,
               weeks: np.ndarray) -> dict:
    """Who stops treatment, from which session on, and which sessions are attended when.

    P(stop) = logistic(logit p_stop[condition] + stop_on_alliance·alliance_z); the first session
    missed for good ~ stop_session_p; each session before it attended with p_attend.  An eMBCT
    module is completed some day of its week, an MBCT session is on the group's day; a missed
    session is known (``session_recorded``) at the end of its week."""
    P = PARAMS
    n = treatment.size
    p = np.array([P["p_stop"][c] for c in CONDITIONS])
    logit_stop = np.log(p / (1 - p))[treatment]
    p_stop = 1 / (1 + np.exp(-(logit_stop + P["stop_on_alliance"] * alliance_z)))
    stops = rng.random(n) < p_stop
    sp = np.array(P["stop_session_p"])
    stop_session = np.where(stops, 1 + rng.choice(sp.size, size=n, p=sp / sp.sum()), NEVER_STOPPED)
    attended = ((rng.random((n, N_SESSIONS)) < P["p_attend"])
                & (np.arange(1, N_SESSIONS + 1)[None, :] < stop_session[:, None]))
    online = treatment == CONDITIONS.index("eMBCT")
    module_day = np.where(online[:, None], rng.integers(0, 7, (n, N_SESSIONS)), 0)
    session_on = np.where(attended, weeks + module_day, -1)
    session_recorded = np.where(attended, session_on, weeks + 6)
    return dict(stops=stops, stop_session=stop_session, attended=attended, n_attended=attended.sum(axis=1),
                session_on=session_on, session_recorded=session_recorded)


def disposition(rng: np.random.Generator, treatment: np.ndarray, stops: np.ndarray, stop_session: np.ndarray,
                weeks: np.ndarray) -> dict:
    """The disposition row of those who stopped: with p_disposition_of_stoppers a row, withdrawn
    with p_withdraw_of_stoppers else discontinued, dated in the week of the first missed session.

    ``event`` indexes EVENTS (0: none), ``reason`` the reasons of its event; ``u_disp`` and
    ``u_reason`` are kept for :func:`lost_to_follow_up`."""
    P = PARAMS
    n = treatment.size
    event = np.zeros(n, np.int8)
    event_on = np.full(n, -1, np.int64)
    reason = np.zeros(n, np.int16)
    u_disp = rng.random(n)
    u_kind = rng.random(n)
    stop_week = weeks[np.arange(n), np.minimum(stop_session, N_SESSIONS) - 1]
    stop_event_on = stop_week + rng.integers(0, 7, n)
    has_stop_row = stops & (u_disp < P["p_disposition_of_stoppers"])
    withdrew = has_stop_row & (u_kind < P["p_withdraw_of_stoppers"])
    discontinued = has_stop_row & ~withdrew
    event[discontinued] = DISCONTINUED
    event[withdrew] = WITHDREW
    event_on[has_stop_row] = stop_event_on[has_stop_row]
    u_reason = rng.random(n)
    for cond, name in enumerate(CONDITIONS):
        cdf = np.cumsum(DISCONTINUATION_P[name])
        sel = discontinued & (treatment == cond)
        reason[sel] = np.minimum(np.searchsorted(cdf, u_reason[sel] * cdf[-1], side="right"), len(cdf) - 1)
    reason[withdrew] = (u_reason[withdrew] * len(WITHDRAWAL_REASONS)).astype(np.int16)
    return dict(event=event, event_on=event_on, reason=reason, has_stop_row=has_stop_row,
                u_disp=u_disp, u_reason=u_reason)


def lost_to_follow_up(rng: np.random.Generator, trial: dict) -> dict:
    """Completers (no stop row) lost with p_ltfu, from a random follow-up on (``ltfu_from``
    indexes FOLLOW_UPS); the event is dated 6 weeks after that follow-up's completion day.
    Updates ``event``, ``event_on`` and ``reason`` of :func:`disposition` in place."""
    n = trial["n"]
    event, event_on, reason = trial["event"], trial["event_on"], trial["reason"]
    ltfu = ~trial["has_stop_row"] & (trial["u_disp"] > 1 - PARAMS["p_ltfu"])
    ltfu_from = rng.integers(0, len(FOLLOW_UPS), n)
    event[ltfu] = LOST
    event_on[ltfu] = trial["fu_on"][np.arange(n), ltfu_from][ltfu] + 42
    reason[ltfu] = (trial["u_reason"][ltfu] < 0.5).astype(np.int16)
    return dict(ltfu=ltfu, ltfu_from=ltfu_from)


def screening_persons(rng: np.random.Generator, trial: dict) -> dict[str, np.ndarray]:
    """Screening rows of the randomized and of the excluded persons (before censoring), in order
    of screening.  ``participant`` is the index of the randomized participant (-1: excluded),
    ``reason`` the index into EXCLUSIONS (-1: randomized)."""
    n = trial["n"]
    n_excluded = trial["n_screened"] - n
    shares = np.array([e[2] for e in EXCLUSIONS])
    reason_idx = rng.choice(len(EXCLUSIONS), size=n_excluded, p=shares / shares.sum())
    start, recruitment_days = trial["recruitment"]
    ex_screened_on = start - 21 + rng.integers(0, recruitment_days + 21, n_excluded)
    ex_site = rng.choice(len(SITES), size=n_excluded, p=SITE_P)
    screened_on = np.concatenate([trial["screened_on"], ex_screened_on])
    site = np.concatenate([trial["site"], ex_site])
    participant = np.concatenate([np.arange(n), np.full(n_excluded, -1)])
    reason = np.concatenate([np.full(n, -1), reason_idx])
    tie = rng.random(screened_on.size)
    order = np.lexsort((tie, screened_on))
    return dict(screened_on=screened_on[order], site=site[order], participant=participant[order], reason=reason[order])
