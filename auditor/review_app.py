"""The review page: a small local web app over a batch database (Starlette, served by uvicorn).

A queue of current findings (filters, sort, pages), each with its sentence, legal basis, match
evidence and a player at the finding's time or its evidence clip; confirm, dismiss, reopen and a
note by click or key; the recording's page; counts per decision. Decisions go into the same
database as the batch (WAL; one short transaction each), so the page can run next to a batch.

Security, by default and on every request:
- Loopback only unless told otherwise. On loopback the Host header must name the loopback address
  (a page elsewhere cannot reach it through DNS rebinding).
- Any other address needs a token (generated when none is given): the printed URL carries it once,
  it becomes an HttpOnly, SameSite=Strict cookie, and every request without it (cookie, `?token=`
  or `Authorization: Bearer`) is refused with 401.
- A state-changing request needs the page's CSRF token in `X-CSRF-Token`, a JSON body and, when
  the browser sends one, an Origin of this server; anything else is refused with 403.
- `read_only`: the database is opened read-only and every state-changing request is refused.
- Everything a recording or transcript contributes is escaped (`html.escape`; JSON for scripts
  with `<`, `>` and `&` escaped) and the script sets text only (`textContent`), never markup; the
  Content-Security-Policy allows only the app's own script, style and media.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import mimetypes
import os
import secrets
import signal
import socket
import tempfile
import threading
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from auditor.clips import DEFAULT_PADDING, clip_window, cut_clip
from auditor.decisions import DECISIONS, OPEN, ReviewedFinding
from auditor.errors import AuditorError, InputError, StoreError
from auditor.findings import CHANNELS
from auditor.report_html import LEAD_IN, esc, highlight, page_csp, render_html, script_json
from auditor.severity import SEVERITIES
from auditor.store import QUEUE_ORDERS, FindingQuery, Store
from auditor.times import clock, utc_moment

log = logging.getLogger("auditor")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PAGE_SIZES = (10, 25, 50, 100, 200)
DEFAULT_ORDER = "severity"
TOKEN_COOKIE = "auditor_token"
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 64 * 1024  # a decision request is small; anything bigger is refused unread
MAX_NOTE = 4000
MAX_IDS = 500
_ASSETS = {"review.js": "text/javascript", "review.css": "text/css", "report.css": "text/css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ServeOptions:
    database: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None  # required on every request when set
    read_only: bool = False
    reviewer: str = ""  # the name the page offers until the reviewer types their own


@dataclass(frozen=True)
class QueueView:
    """The queue as the query string asks for it (anything not understood: the default)."""

    query: FindingQuery
    decision: str  # open, confirmed, dismissed, or all
    severity: str
    category: str
    channel: str
    source: str
    since: str
    order: str
    page: int
    per_page: int
    notice: str = ""
    after: str = ""  # a finding id: the page holds those after it in this order ("next")
    before: str = ""  # ... or those before it ("previous")

    @classmethod
    def parse(cls, params: Any) -> QueueView:
        def pick(name: str, choices: tuple[str, ...], default: str) -> str:
            value = str(params.get(name, default))
            return value if value in choices else default

        def number(name: str, default: int) -> int:
            try:
                return max(1, int(params.get(name, default)))
            except ValueError:
                return default

        decision = pick("decision", (*DECISIONS, "all"), OPEN)
        severity = pick("severity", ("", *SEVERITIES), "")
        channel = pick("channel", ("", *CHANNELS), "")
        category = str(params.get("category", "")).strip()
        source = str(params.get("source", "")).strip()
        since = str(params.get("since", "")).strip()
        notice = ""
        since_iso = None
        if since:
            try:
                since_iso = utc_moment(since)
            except ValueError:
                notice = f"{since!r} is not a date (YYYY-MM-DD): not filtered by date"
                since = ""
        audit = params.get("audit", "")
        per_page = number("per", 50)
        return cls(
            query=FindingQuery(
                since=since_iso,
                min_severity=severity or None,
                categories=(category,) if category else (),
                source_glob=source or None,
                decisions=() if decision == "all" else (decision,),
                channels=(channel,) if channel else (),
                audit_id=int(audit) if str(audit).isdigit() else None,
            ),
            decision=decision,
            severity=severity,
            category=category,
            channel=channel,
            source=source,
            since=since,
            order=pick("sort", tuple(QUEUE_ORDERS), DEFAULT_ORDER),
            page=number("page", 1),
            per_page=per_page if per_page in PAGE_SIZES else 50,
            notice=notice,
            after=str(params.get("after", ""))[:64],
            before=str(params.get("before", ""))[:64],
        )

    def link(self, **changes: Any) -> str:
        """This view's query string with some parameters changed (None drops one)."""
        params: dict[str, Any] = {
            "decision": self.decision,
            "severity": self.severity,
            "category": self.category,
            "channel": self.channel,
            "source": self.source,
            "since": self.since,
            "sort": self.order,
            "per": self.per_page,
            "page": self.page,
        }
        if self.query.audit_id is not None:
            params["audit"] = self.query.audit_id
        params.update(changes)
        kept = {k: v for k, v in params.items() if v not in (None, "")}
        return "?" + urllib.parse.urlencode(kept)


class ReviewApp:
    """The app and what it holds: the database (one connection per server thread), the CSRF
    token, and a folder of evidence clips cut on demand."""

    def __init__(self, options: ServeOptions, clip_folder: str) -> None:
        if not is_loopback(options.host) and not options.token:
            raise InputError(options.host, "serving beyond this machine needs a token")
        self.options = options
        self.port = options.port
        self.csrf = secrets.token_urlsafe(32)
        self.clip_folder = Path(clip_folder)
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self._clip_lock = threading.Lock()
        self.store()  # open (and upgrade, unless read-only) now: a bad database fails at start
        self.asgi = _Guard(
            self,
            Starlette(
                routes=[
                    Route("/", self.queue),
                    Route("/recording/{audit_id:int}", self.recording),
                    Route("/media/{audit_id:int}", self.media),
                    Route("/clip/{finding_id}", self.clip),
                    Route("/api/history/{finding_id}", self.history),
                    Route("/api/decide", self.decide, methods=["POST"]),
                    Route("/assets/{name}", self.asset),
                ]
            ),
        )

    # -- the database --------------------------------------------------------------------------

    def store(self) -> Store:
        """This thread's connection (a Store is used from one thread)."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.options.database, create=False, read_only=self.options.read_only)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            for store in self._stores:
                try:
                    store.close()
                except Exception:  # closing from another thread: sqlite may refuse; exiting anyway
                    log.debug("closing a database connection failed", exc_info=True)
            self._stores.clear()

    # -- pages ---------------------------------------------------------------------------------

    def queue(self, request: Request) -> Response:
        view = QueueView.parse(request.query_params)
        store = self.store()
        counts = store.decision_counts(view.query)
        total = (
            sum(counts[d] for d in view.query.decisions)
            if view.query.decisions
            else sum(counts.values())
        )
        pages = max(1, math.ceil(total / view.per_page))
        view = replace(view, page=min(view.page, pages))
        try:
            shown = _page_of(store, view)
        except InputError:  # the finding it continued from was rescanned away
            view = replace(
                view, after="", before="", page=1, notice="That page's place is gone: from the top."
            )
            shown = _page_of(store, view)
        return HTMLResponse(
            _queue_page(self, view, shown, counts, total, pages, sorted(store.categories()))
        )

    def recording(self, request: Request) -> Response:
        audit_id = int(request.path_params["audit_id"])
        try:
            stored = self.store().stored_result(audit_id)
        except StoreError:
            return PlainTextResponse(f"no done audit {audit_id}", status_code=404)
        page = render_html(
            [stored.result],
            None,
            settings=stored.settings,
            home=f"/?audit={audit_id}&decision=all&sort=source",
            media=[f"/media/{audit_id}"],
        )
        # The report allows only its own inline style and script, by hash (its meta tag says so
        # too); a header adds what a meta tag cannot: no framing.
        return HTMLResponse(
            page, headers={"content-security-policy": page_csp() + "; frame-ancestors 'none'"}
        )

    def _media_path(self, audit_id: int) -> str | None:
        for path in self.store().media_paths(audit_id):
            if os.path.isfile(path):
                return path
        return None

    def media(self, request: Request) -> Response:
        path = self._media_path(int(request.path_params["audit_id"]))
        if path is None:
            return PlainTextResponse("the recording is not where it was audited", 404)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind)

    def clip(self, request: Request) -> Response:
        """The finding's evidence clip (cut once, then kept while the server runs)."""
        finding_id = str(request.path_params["finding_id"])
        rows = self.store().reviewed_findings(FindingQuery(ids=(finding_id,)))
        if not rows:
            return PlainTextResponse("no current finding with this id", 404)
        row = rows[0]
        ext = "mp4" if row.has_video else "m4a"
        target = self.clip_folder / f"{row.finding.id}.{ext}"
        with self._clip_lock:
            if not target.exists():
                path = self._media_path(row.audit_id)
                if path is None:
                    return PlainTextResponse("the recording is not where it was audited", 404)
                stored = self.store().stored_result(row.audit_id)
                result = replace(stored.result, source=replace(stored.result.source, path=path))
                start, end = clip_window(row.finding, DEFAULT_PADDING, result.source.duration)
                try:
                    cut_clip(
                        result, start, end, target, int(stored.settings.get("audio_stream", 0))
                    )
                except AuditorError as exc:
                    return PlainTextResponse(f"cannot cut the clip: {exc}", 500)
        return FileResponse(target, media_type="video/mp4" if row.has_video else "audio/mp4")

    def history(self, request: Request) -> Response:
        finding_id = str(request.path_params["finding_id"])
        rows = self.store().decision_history([finding_id])
        return JSONResponse([d.to_dict() for d in rows])

    async def decide(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, 413)
        try:
            doc = json.loads(body)
            ids = [str(i) for i in doc["ids"]]
            decision = str(doc["decision"])
            reviewer = str(doc.get("reviewer") or "").strip()
            note = doc.get("note")
            seen = {str(k): int(v) for k, v in (doc.get("seen") or {}).items()}
            query = str(doc.get("query") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"error": "expected {ids, decision, reviewer, note, seen}"}, 400)
        if not ids or len(ids) > MAX_IDS:
            return JSONResponse({"error": f"give 1 to {MAX_IDS} finding ids"}, 400)
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            return JSONResponse({"error": f"a note is text of at most {MAX_NOTE} characters"}, 400)
        if not reviewer or len(reviewer) > 100:
            return JSONResponse({"error": "enter your name (up to 100 characters) first"}, 400)
        view = QueueView.parse(dict(urllib.parse.parse_qsl(query.lstrip("?"), max_num_fields=20)))
        return await _in_thread(self._decide, ids, decision, reviewer, note, seen, view)

    def _decide(
        self,
        ids: list[str],
        decision: str,
        reviewer: str,
        note: str | None,
        seen: dict[str, int],
        view: QueueView,
    ) -> Response:
        store = self.store()
        try:
            changes = store.decide(ids, decision, reviewer, note, seen)
        except InputError as exc:
            return JSONResponse({"error": exc.cause}, 400)
        except StoreError as exc:  # the batch held the database too long, or the disk is full
            return JSONResponse({"error": exc.cause}, 503)
        log.info("%s: %s %s", reviewer, decision, " ".join(ids))
        return JSONResponse(
            {
                "changes": [c.to_dict() for c in changes],
                "counts": store.decision_counts(view.query),
            }
        )

    def asset(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in _ASSETS:
            return PlainTextResponse("not found", 404)
        text = resources.files("auditor").joinpath("assets", name).read_text(encoding="utf-8")
        return Response(text, media_type=_ASSETS[name])


async def _in_thread(function: Callable[..., Response], *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


# -- every request: host, token, CSRF, headers ---------------------------------------------------


class _Guard:
    """ASGI middleware that checks every request before the app sees it, and adds the security
    headers to every response."""

    def __init__(self, review: ReviewApp, app: Any) -> None:
        self.review = review
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is None and self.review.options.token and "token" in request.query_params:
            refusal = self._token_to_cookie(request)
        respond = refusal or self.app

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in headers}
                extra = dict(_HEADERS)
                if "content-security-policy" not in present:
                    extra["content-security-policy"] = _CSP
                headers += [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in extra.items()
                    if k not in present
                ]
                message["headers"] = headers
            await send(message)

        await respond(scope, receive, with_headers)

    def _refusal(self, request: Request) -> Response | None:
        options = self.review.options
        host = request.headers.get("host", "")
        if is_loopback(options.host) and host not in self._loopback_hosts():
            return PlainTextResponse("this server answers on its loopback address only", 403)
        if options.token and not self._has_token(request, options.token):
            return PlainTextResponse(
                "a token is needed: open the URL that `auditor serve` printed", 401
            )
        if request.method in ("GET", "HEAD"):
            return None
        if options.read_only:
            return JSONResponse({"error": "this review page is read-only"}, 403)
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.review.csrf.encode()):
            return JSONResponse({"error": "missing or wrong CSRF token: reload the page"}, 403)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return JSONResponse({"error": "expected a JSON body"}, 415)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{host}":
            return JSONResponse({"error": "cross-origin request refused"}, 403)
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, 413)
        return None

    def _loopback_hosts(self) -> set[str]:
        port = self.review.port
        names = {"127.0.0.1", "localhost", "[::1]", self.review.options.host}
        return {f"{name}:{port}" for name in names} | (names if port == 80 else set())

    @staticmethod
    def _has_token(request: Request, token: str) -> bool:
        auth = request.headers.get("authorization", "")
        offered = [
            request.cookies.get(TOKEN_COOKIE, ""),
            request.query_params.get("token", ""),
            auth[7:] if auth.lower().startswith("bearer ") else "",
        ]
        return any(hmac.compare_digest(o.encode(), token.encode()) for o in offered if o)

    @staticmethod
    def _token_to_cookie(request: Request) -> Response:
        """The URL's token becomes a cookie, and the URL loses it (history, screenshots)."""
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + ("?" + urllib.parse.urlencode(kept) if kept else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            TOKEN_COOKIE,
            request.query_params["token"],
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


# -- the queue page --------------------------------------------------------------------------


def _select(name: str, label: str, options: list[tuple[str, str]], value: str) -> str:
    choices = "".join(
        f'<option value="{esc(v)}"{" selected" if v == value else ""}>{esc(text)}</option>'
        for v, text in options
    )
    return (
        f'<label>{esc(label)} <select name="{esc(name)}" id="f-{esc(name)}">{choices}</select>'
        "</label>"
    )


def _filters(view: QueueView, categories: list[str]) -> str:
    audit = (
        f'<input type="hidden" name="audit" value="{view.query.audit_id}">'
        if view.query.audit_id is not None
        else ""
    )
    return (
        '<form id="filters" class="filters" method="get" action="/">'
        + _select(
            "decision",
            "decision",
            [(d, d) for d in DECISIONS] + [("all", "all")],
            view.decision,
        )
        + _select(
            "severity",
            "severity",
            [("", "any")] + [(s, f"{s} or above") for s in SEVERITIES],
            view.severity,
        )
        + _select(
            "category", "category", [("", "any")] + [(c, c) for c in categories], view.category
        )
        + _select("channel", "channel", [("", "any")] + [(c, c) for c in CHANNELS], view.channel)
        + f'<label>recording <input type="search" name="source" id="f-source" '
        f'value="{esc(view.source)}" placeholder="glob, e.g. */2026-11-*"></label>'
        f'<label>audited since <input type="date" name="since" id="f-since" '
        f'value="{esc(view.since[:10])}"></label>'
        + _select(
            "sort",
            "sort",
            [
                ("severity", "severity"),
                ("newest", "newest audits"),
                ("source", "recording and time"),
                ("confidence", "confidence"),
                ("category", "category"),
            ],
            view.order,
        )
        + _select("per", "per page", [(str(n), str(n)) for n in PAGE_SIZES], str(view.per_page))
        + audit
        + '<button type="submit" id="apply">apply</button> <a href="/">reset</a></form>'
    )


def _row(index: int, row: ReviewedFinding) -> str:
    f = row.finding
    return (
        f'<tr class="finding sev-{esc(f.severity)}" data-index="{index}" data-id="{esc(f.id)}" '
        f'data-decision="{esc(row.decision)}" tabindex="0">'
        f'<td class="num">{clock(f.start)}</td>'
        f'<td><span class="sev sev-{esc(f.severity)}">{esc(f.severity)}</span></td>'
        f"<td>{esc(f.category)}<br><small>{esc(f.rule)}</small></td>"
        f'<td class="said"><span class="sentence">{highlight(f.context, f.matched)}</span><br>'
        f'<small class="path" title="{esc(f.source)}">{esc(os.path.basename(f.source))}</small>'
        "</td>"
        f'<td class="num">{f.confidence:.2f}</td>'
        f'<td class="decision">{esc(row.decision)}</td></tr>'
    )


def _finding_data(row: ReviewedFinding) -> dict[str, Any]:
    f = row.finding
    current = row.current
    return {
        "id": f.id,
        "audit": row.audit_id,
        "source": f.source,
        "start": round(f.start, 3),
        "end": round(f.end, 3),
        "severity": f.severity,
        "category": f.category,
        "rule": f.rule,
        "matched": f.matched,
        "term": f.term,
        "context": f.context,
        "legal_basis": f.legal_basis,
        "confidence": f.confidence,
        "match": f.match,
        "channel": f.channel,
        "why": dict(f.why),
        "heard_logprob": f.heard_logprob,
        "term_logprob": f.term_logprob,
        "decision": row.decision,
        "decision_id": current.id if current else 0,
        "reviewer": current.reviewer if current else None,
        "decided": current.decided if current else None,
        "note": current.note if current else None,
        "media": f"/media/{row.audit_id}",
        "clip": f"/clip/{urllib.parse.quote(f.id)}",
        "recording": f"/recording/{row.audit_id}",
    }


@dataclass(frozen=True)
class _Shown:
    rows: list[ReviewedFinding]
    earlier: bool  # there are findings before these in the queue
    later: bool  # ... and after them


def _page_of(store: Store, view: QueueView) -> _Shown:
    """The rows the view asks for: by page number, or next to a finding (what the previous and
    next links ask for, so deciding a page's findings out of the open queue skips none)."""
    n = view.per_page
    if view.after or view.before:
        rows = store.reviewed_findings(
            view.query,
            view.order,
            limit=n + 1,
            after=view.after or view.before,
            backwards=not view.after,
        )
        if view.after:
            return _Shown(rows[:n], True, len(rows) > n)
        if rows:
            return _Shown(rows[-n:], len(rows) > n, True)
        # Nothing before it any more (decided out of the queue): the queue's first page.
        view = replace(view, before="", page=1)
    rows = store.reviewed_findings(view.query, view.order, (view.page - 1) * n, n + 1)
    return _Shown(rows[:n], view.page > 1, len(rows) > n)


def _queue_page(
    review: ReviewApp,
    view: QueueView,
    shown: _Shown,
    counts: dict[str, int],
    total: int,
    pages: int,
    categories: list[str],
) -> str:
    options = review.options
    count_links = " ".join(
        f'<a class="count count-{d}{" on" if view.decision == d else ""}" '
        f'href="{esc(view.link(decision=d, page=None))}"><span id="count-{d}">{counts[d]}</span> '
        f"{d}</a>"
        for d in DECISIONS
    )
    rows = shown.rows
    pager = []  # shown above and below the queue: classes, not ids
    if shown.earlier and rows:
        back = view.link(page=None, before=rows[0].finding.id)
        pager.append(f'<a class="prev" href="{esc(back)}">← previous</a>')
    if not (view.after or view.before):
        pager.append(f'<span class="page">page {view.page} of {pages}</span>')
    if shown.later and rows:
        on = view.link(page=None, after=rows[-1].finding.id)
        pager.append(f'<a class="next" href="{esc(on)}">next →</a>')
    table = (
        '<table class="queue"><thead><tr><th>time</th><th>severity</th><th>category</th>'
        "<th>what was said (recording)</th><th>confidence</th><th>decision</th></tr>"
        f"</thead><tbody>{''.join(_row(i, r) for i, r in enumerate(rows))}</tbody></table>"
        if rows
        else '<p class="none" id="empty">No findings match.</p>'
    )
    buttons = (
        '<p class="muted" id="read-only">Read-only: decisions cannot be changed here.</p>'
        if options.read_only
        else (
            '<div class="decide">'
            '<button type="button" id="confirm" class="act">confirm <kbd>c</kbd></button>'
            '<button type="button" id="dismiss" class="act">dismiss <kbd>d</kbd></button>'
            '<button type="button" id="reopen" class="act">reopen <kbd>o</kbd></button>'
            '<textarea id="note" rows="2" maxlength="4000" '
            'placeholder="note (n; Enter saves it with the decision)"></textarea></div>'
        )
    )
    data = {
        "csrf": review.csrf,
        "readOnly": options.read_only,
        "reviewer": options.reviewer,
        "lead": LEAD_IN,
        "findings": [_finding_data(r) for r in rows],
    }
    name = os.path.basename(options.database)
    reviewer_box = (
        ""
        if options.read_only
        else '<label class="who">reviewer <input id="reviewer" maxlength="100" '
        'autocomplete="name" placeholder="your name"></label>'
    )
    return (
        '<!doctype html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'  # no request for /favicon.ico
        f"<title>auditor review: {esc(name)}</title>"
        '<link rel="stylesheet" href="/assets/report.css">'
        '<link rel="stylesheet" href="/assets/review.css"></head><body class="review">'
        f'<header><h1>Review <small>{esc(name)}</small></h1><nav class="counts">{count_links}'
        f"</nav>{reviewer_box}</header>"
        f"{_filters(view, categories)}"
        + (f'<p class="notice">{esc(view.notice)}</p>' if view.notice else "")
        + f'<p class="summary-line"><span id="total">{total}</span> finding(s) match; '
        f"{' '.join(pager)}</p>"
        '<div class="review-grid"><div class="queue-box">'
        f"{table}"
        f'<nav class="pages">{" ".join(pager)}</nav></div>'
        '<aside id="detail"><video id="player" class="player" controls preload="none"></video>'
        '<p id="player-status" class="muted" aria-live="polite">Select a finding to play it.</p>'
        '<h2 id="d-title"></h2><p class="said" id="d-said"></p>'
        '<dl class="evidence"><dt>legal basis</dt><dd id="d-law"></dd>'
        '<dt>rule</dt><dd id="d-rule"></dd><dt>match</dt><dd id="d-match"></dd>'
        '<dt>why</dt><dd id="d-why"></dd><dt>recording</dt><dd><span id="d-source"></span> '
        '<a id="d-recording" href="#">page</a> · '
        '<button type="button" id="play">▶ from here <kbd>p</kbd></button> '
        '<button type="button" id="play-clip">▶ clip</button></dd>'
        '<dt>decision</dt><dd id="d-decision"></dd></dl>'
        f"{buttons}"
        '<p id="decide-status" aria-live="polite"></p>'
        '<h3>History</h3><ol id="history"></ol></aside></div>'
        '<p class="keys muted">Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>p</kbd> '
        "play from the finding, <kbd>space</kbd> pause, <kbd>c</kbd> confirm, <kbd>d</kbd> "
        "dismiss, <kbd>o</kbd> reopen, <kbd>n</kbd> note.</p>"
        f'<script type="application/json" id="review-data">{script_json(data)}</script>'
        '<script src="/assets/review.js"></script></body></html>\n'
    )


# -- serving -----------------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(host, f"cannot resolve the address: {exc.strerror}") from exc
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise InputError(f"{host}:{port}", f"cannot listen there: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(options: ServeOptions, ready: Callable[[str], None]) -> None:
    """Run the review page until interrupted; `ready` gets the URL to open (with the token)."""
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="auditor-clips-") as clips:
        review = ReviewApp(options, clips)
        try:
            sock = bind(options.host, options.port)
            review.port = int(sock.getsockname()[1])
            shown = options.host
            if shown in ("0.0.0.0", "::"):  # every address: name the machine, not the wildcard
                shown = socket.gethostname()
            shown = f"[{shown}]" if ":" in shown else shown
            url = f"http://{shown}:{review.port}/"
            if options.token:
                url += "?" + urllib.parse.urlencode({"token": options.token})
            config = uvicorn.Config(
                review.asgi,
                log_level="warning",
                access_log=False,
                lifespan="off",
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=5,
            )
            # uvicorn stops gracefully on SIGTERM, then raises it again: as an interrupt here, so
            # the clips folder and the connections are cleaned up as on Ctrl-C.
            previous = signal.signal(signal.SIGTERM, _interrupt)
            # A stop in the first instant, before uvicorn's loop runs, leaves its coroutine unrun.
            warnings.filterwarnings("ignore", "coroutine 'Server.serve' was never awaited")
            try:
                ready(url)
                uvicorn.Server(config).run(sockets=[sock])
            finally:
                signal.signal(signal.SIGTERM, previous)
        finally:
            review.close()
