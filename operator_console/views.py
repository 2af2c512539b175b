"""The pages of the operators' console: turnout, sign-ins, réassort, delivery. Read only: every page is a GET.

A page takes its figures from :mod:`operator_console.figures` (counted at most every ``REFRESH`` seconds) and gives
the templates what each chart draws and what its table says, already formatted in French: the chart and its table
come from the same lists, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from operator_console import figures
from operator_console.access import current_operator, operator_required
from relying_party import turnout as turnout_counts
from templates.figures import duree, heure, jour_heure, nombre, pourcent

bp = Blueprint("operations", __name__)

#: Age of the oldest waiting message past which the page says the queue is late (the alert rules use the same).
OUTBOX_LATE_AFTER = 120


def _render(template: str, **context: Any) -> str:
    return render_template(template, operator=current_operator(), **context)


@bp.get("/")
def home() -> Response | str:
    if current_operator() is not None:
        return redirect(url_for("operations.turnout"))
    return render_template("operator_console/home.html")


@bp.get("/participation")
@operator_required
def turnout() -> str:
    data = figures.turnout_figures()
    history = data["history"]["scrutins"]
    academies = {s["code"]: s for s in data["academies"]["scrutins"]}
    codes = [s["code"] for s in history]
    wanted = request.args.get("scrutin", "")
    # The scrutin with the largest roll first (the national one), unless the operator chose another.
    largest = max(history, key=lambda s: s["registered"], default=None)
    chosen = next((s for s in history if s["code"] == wanted), largest)
    summary = [
        [
            s["label"],
            nombre(s["registered"]),
            nombre(s["points"][-1]["voted"] if s["points"] else 0),
            pourcent(s["points"][-1]["rate"] if s["points"] else 0.0),
        ]
        for s in history
    ]
    points = chosen["points"] if chosen else []
    per_academie = academies[chosen["code"]]["academies"] if chosen else []
    # One académie's hour by hour, from the kept counts per scrutin, académie and hour.
    academie = next((a for a in per_academie if a["domain"] == request.args.get("academie")), None)
    if chosen and academie:
        counts = {(s, d, h): n for s, d, h, n in data["counts"] if s == chosen["id"] and d == academie["domain"]}
        now = dt.datetime.fromisoformat(data["computed_at"])
        points = turnout_counts.history([chosen], counts, {chosen["id"]: academie["registered"]}, now)[0]["points"]
    return _render(
        "operator_console/turnout.html",
        computed_at=data["computed_at"],
        codes=codes,
        history=history,
        chosen=chosen,
        academie=academie,
        academies_of_chosen=per_academie,
        summary=summary,
        time_x=[jour_heure(p["at"]) for p in points],
        time_y=[p["rate"] for p in points],
        time_rows=[[jour_heure(p["at"]), nombre(p["voted"]), pourcent(p["rate"])] for p in points],
        academie_x=[a["academie"] for a in per_academie],
        academie_y=[a["rate"] for a in per_academie],
        academie_rows=[
            [a["academie"], nombre(a["registered"]), nombre(a["voted"]), pourcent(a["rate"])] for a in per_academie
        ],
    )


@bp.get("/connexions")
@operator_required
def sign_ins() -> str:
    data = figures.sign_in_figures()
    series = data["sign_ins"]["series"]
    failures = data["sign_ins"]["failures"]
    lockouts = data["lockouts"]
    return _render(
        "operator_console/sign_ins.html",
        computed_at=data["computed_at"],
        sign_ins=data["sign_ins"],
        minute_x=[heure(p["at"]) for p in series],
        minute_y=[[p["succeeded"] for p in series], [p["failed"] for p in series]],
        minute_rows=[[heure(p["at"]), nombre(p["succeeded"]), nombre(p["failed"])] for p in series],
        failure_x=[f["reason"] for f in failures],
        failure_y=[f["count"] for f in failures],
        failure_rows=[[f["reason"], nombre(f["count"])] for f in failures],
        lockout_kinds=lockouts["kinds"],
        lockout_hours=lockouts["hours"],
        lockout_x=[jour_heure(p["at"]) for p in lockouts["series"]],
        lockout_y=[[p["counts"][i] for p in lockouts["series"]] for i in range(len(lockouts["kinds"]))],
        lockout_rows=[[jour_heure(p["at"]), *(nombre(n) for n in p["counts"])] for p in lockouts["series"]],
        lockout_totals=[
            [kind, nombre(total)] for kind, total in zip(lockouts["kinds"], lockouts["totals"], strict=True)
        ],
    )


@bp.get("/reassort")
@operator_required
def reassort() -> str:
    data = figures.reassort_figures()
    channels = data["channels"]
    return _render(
        "operator_console/reassort.html",
        computed_at=data["computed_at"],
        funnel=data,
        steps=data["steps"],
        funnel_y=[c["steps"] for c in channels] or [[0] * len(data["steps"])],
        funnel_names=[c["label"] for c in channels] or ["Tous canaux"],
        funnel_rows=[[c["label"], *(nombre(n) for n in c["steps"])] for c in channels]
        + [["Total", *(nombre(n) for n in data["totals"])]],
    )


@bp.get("/acheminement")
@operator_required
def delivery() -> str:
    data = figures.delivery_figures()
    series = data["series"]
    outcomes = data["outcomes"]
    return _render(
        "operator_console/delivery.html",
        computed_at=data["computed_at"],
        delivery=data,
        late=[q["label"] for q in data["outbox"] if (q["oldest_age"] or 0) > OUTBOX_LATE_AFTER],
        late_after=OUTBOX_LATE_AFTER,
        outbox_rows=[[q["label"], nombre(q["waiting"]), duree(q["oldest_age"])] for q in data["outbox"]],
        outcome_names=outcomes,
        hour_x=[jour_heure(p["at"]) for p in series],
        hour_y=[[p["counts"][i] for p in series] for i in range(len(outcomes))],
        hour_rows=[[jour_heure(p["at"]), *(nombre(n) for n in p["counts"])] for p in series],
        channel_rows=[[c["label"], *(nombre(n) for n in c["counts"])] for c in data["channels"]],
    )
