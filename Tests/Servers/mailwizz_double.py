#!/usr/bin/env python3
"""MailWizz API v2 test double (standard library only).

Emulates the subscriber and campaign parts of the MailWizz 2.3.x REST API closely enough for
end-to-end tests of a client: the same routes, status codes, error texts and JSON shapes as the
PHP source (List_subscribersController, ListsController, CampaignsController,
Campaign_unsubscribesController, Campaign_bouncesController, Yii's CHttpRequest), PHP's form
decoding (bracket keys, `+` as space, max_input_vars, post_max_size), and injectable
faults (503, 5xx, mutex 409, delays, "fail the next N requests", lost replies).

    MAILWIZZ_DOUBLE_KEY=secret mailwizz_double.py --port 0 --port-file /tmp/mw.port

Listens on 127.0.0.1 only. Control API (no auth, loopback only):
    GET  /__state     everything as JSON: lists, subscribers, blacklist, counters, faults
                      (?summary=1 leaves the subscribers out, keeping their counts)
    POST /__control   JSON object of changes (see README.md), answers the new config
    POST /__shutdown  stop the server
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import re
import signal
import sys
import threading
import time
import base64
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus, urlsplit

# ---------------------------------------------------------------------------
# PHP-compatible input decoding
# ---------------------------------------------------------------------------


def php_parse_pairs(raw, max_vars):
    """Split a query string / urlencoded body into (name, value) pairs the way PHP does:
    `&`-separated, `+` is a space, %XX decoded; pairs past max_vars are silently dropped
    (PHP warns in its log but the request goes on)."""
    pairs = []
    for chunk in raw.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        name = unquote_plus(name, errors="replace")
        if not name:
            continue
        if max_vars and len(pairs) >= max_vars:
            break
        pairs.append((name, unquote_plus(value, errors="replace")))
    return pairs


def _php_split_name(name):
    """'subscribers[0][EMAIL]' -> ('subscribers', ['0', 'EMAIL']); '[]' segments -> None."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    base = name if bracket < 0 else name[:bracket]
    segments = []
    if bracket >= 0:
        rest = name[bracket:]
        while rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                # An unmatched '[' becomes '_' and the rest of the name is kept literally.
                if not segments:
                    base = base + "_" + rest[1:]
                break
            seg = rest[1:close]
            segments.append(None if seg == "" else seg)
            rest = rest[close + 1:]
    # PHP turns ' ' and '.' in the top-level name into '_'.
    base = base.replace(" ", "_").replace(".", "_")
    return base, segments


def _next_index(d):
    ints = [int(k) for k in d if re.fullmatch(r"-?[0-9]+", k)]
    return str(max(ints) + 1 if ints else 0)


def php_build_vars(pairs):
    """Build PHP's nested $_POST/$_GET array (dicts keep insertion order like PHP arrays)."""
    out = {}
    for name, value in pairs:
        base, segments = _php_split_name(name)
        if not base:
            continue
        if not segments:
            out[base] = value
            continue
        node = out
        key = base
        for seg in segments:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
            key = _next_index(node) if seg is None else seg
        node[key] = value
    return out


def php_empty(v):
    return v is None or v == "" or v == "0" or v == {} or v == [] or v is False or v == 0


def php_str(v):
    if isinstance(v, dict):
        return "Array"
    if isinstance(v, list):
        return "Array"
    return "" if v is None else str(v)


# Yii 1.1 CEmailValidator pattern, applied after the domain is IDN-encoded (validateIDN).
EMAIL_RE = re.compile(
    r"^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$")


def valid_email(value):
    if not isinstance(value, str) or not value:
        return False
    local, at, domain = value.rpartition("@")
    if not at:
        return False
    try:
        domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return False
    value = local + "@" + domain
    return len(value) <= 254 and EMAIL_RE.match(value) is not None


def email_key(email):
    # MySQL's *_unicode_ci collation compares e-mail addresses case-insensitively.
    return email.casefold()


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------

STATUSES = ["confirmed", "unconfirmed", "unsubscribed", "blacklisted", "unapproved",
            "disabled", "moved"]
DETAIL_STATUSES = ["confirmed", "unconfirmed", "unsubscribed", "blacklisted", "unapproved"]
SOURCES = ["web", "api", "import"]
DEFAULT_FIELDS = [{"tag": "EMAIL", "required": True}, {"tag": "FNAME", "required": False},
                  {"tag": "LNAME", "required": False}]
BOUNCE_TYPES = ["hard", "soft", "internal"]
CAMPAIGN_STATUSES = ["pending-sending", "draft", "paused"]
WRITE_ACTIONS = {"list_subscribers/create", "list_subscribers/create_bulk", "campaigns/create",
                 "campaign_bounces/create",
                 "list_subscribers/update", "list_subscribers/unsubscribe",
                 "list_subscribers/unsubscribe_by_email_from_all_lists",
                 "list_subscribers/delete"}

MSG = {
    "no_list": "The subscribers list does not exist.",
    "no_subscriber": "The subscriber does not exist in this list.",
    "no_email": "Please provide the subscriber email address.",
    "bad_email": "Please provide a valid email address.",
    "exists": "The subscriber already exists in this list.",
    "exists_other": "Another subscriber with this email address already exists in this list.",
    "blacklisted": "This email address is blacklisted.",
    "no_list_items": "Please provide the subscribers list.",
    "mutex": "Unable to acquire the mutex lock, please try again.",
    "offline": "Service Unavailable.",
    "required": "The field {field} is required by the list but it has not been provided!",
    "no_page": "The requested page does not exist.",
    "no_key": "Invalid API request params. Please refer to the documentation.",
    "bad_key": "Invalid API key. Please refer to the documentation.",
    "no_campaign": "The campaign does not exist.",
    "no_campaign_bang": "The campaign does not exist!",
    "campaign_no_list": "Please provide a list for this campaign.",
    "campaign_bad_list": "Provided list does not exist.",
    "campaign_bad_segment": "Provided list segment does not exist.",
    "campaign_no_template": "Please provide a template for your campaign.",
    "campaign_bad_template": "Provided template does not exist.",
    "no_subscriber_bang": "The subscriber does not exist!",
    "already_bounced": "This subscriber has already been marked as bounced!",
    "bad_bounce_type": "Invalid bounce type!",
}


class Double:
    """All mutable state, guarded by one lock (requests are short; simplicity wins)."""

    def __init__(self, args, key):
        self.lock = threading.RLock()
        self.key = key
        self.seed = args.seed
        self.fixed_time = args.fixed_time
        self.customer_timezone = args.customer_timezone
        self.max_input_vars = args.max_input_vars
        self.post_max_size = args.post_max_size
        self.faults = {"p503": args.p503, "p5xx": args.p5xx, "p_mutex": args.p_mutex,
                       "p_lost_reply": args.p_lost_reply, "delay": args.delay,
                       "endpoints": None}
        self.fail_next = {"count": 0, "code": 503, "endpoints": None}
        self.lists = {}
        for uid in args.list or ["testlist00001", "testlist00002"]:
            self.add_list({"list_uid": uid, "opt_in": "single" if args.single_opt_in else "double"})
        self.reset_data()

    # -- setup ------------------------------------------------------------
    def reset_data(self):
        self.rng = random.Random(f"{self.seed}:faults")
        self.uid_rng = random.Random(f"{self.seed}:uids")
        self.next_id = 1
        self.subscribers = {uid: {} for uid in self.lists}  # list_uid -> {sub_uid: record}
        self.by_email = {uid: {} for uid in self.lists}     # list_uid -> {email_key: sub_uid}
        self.blacklist = set()
        self.campaigns = {}          # campaign_uid -> record (see campaigns_create)
        self.unsubscribes = {}       # campaign_uid -> [CampaignTrackUnsubscribe rows], oldest first
        self.bounces = {}            # campaign_uid -> [CampaignBounceLog rows], oldest first
        self.next_campaign_id = 1
        self.next_log_id = 1
        self.requests = {}
        self.responses = {}
        self.faults_injected = 0
        self.log = []

    def add_list(self, spec):
        uid = spec["list_uid"]
        if not re.fullmatch(r"[a-z0-9]+", uid):
            raise ValueError(f"list_uid must match [a-z0-9]+: {uid!r}")
        fields = spec.get("fields") or DEFAULT_FIELDS
        if not any(f["tag"] == "EMAIL" for f in fields):
            fields = [{"tag": "EMAIL", "required": True}] + list(fields)
        self.lists[uid] = {
            "list_uid": uid,
            "name": spec.get("name", f"Test list {uid}"),
            "display_name": spec.get("display_name", spec.get("name", f"Test list {uid}")),
            "description": spec.get("description", "mailpipe test list"),
            "opt_in": spec.get("opt_in", "double"),
            "fields": [{"tag": f["tag"], "required": bool(f.get("required")),
                        "default": f.get("default", "")} for f in fields],
            "from_email": spec.get("from_email", "news@mailpipe.test"),
            "from_name": spec.get("from_name", "mailpipe"),
            "segments": list(spec.get("segments", [])),
        }
        if hasattr(self, "subscribers"):
            self.subscribers.setdefault(uid, {})
            self.by_email.setdefault(uid, {})

    def now(self):
        if self.fixed_time:
            return self.fixed_time
        return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def new_uid(self):
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            uid = "".join(self.uid_rng.choice(alphabet) for _ in range(13))
            if not any(uid in subs for subs in self.subscribers.values()):
                return uid

    # -- subscriber helpers -----------------------------------------------
    def find_by_email(self, list_uid, email):
        uid = self.by_email[list_uid].get(email_key(email))
        return self.subscribers[list_uid][uid] if uid else None

    def store(self, list_uid, sub):
        self.subscribers[list_uid][sub["subscriber_uid"]] = sub
        self.by_email[list_uid][email_key(sub["email"])] = sub["subscriber_uid"]

    def create_or_revive(self, lst, existing, email, ip):
        """New ListSubscriber, or the unsubscribed one being re-subscribed (MailWizz 1.6.6)."""
        sub = existing or {"subscriber_uid": self.new_uid(), "subscriber_id": self.next_id,
                           "date_added": self.now(), "fields": {}}
        if not existing:
            self.next_id += 1
        sub.update({"email": email, "source": "api", "ip_address": ip,
                    "status": "confirmed" if lst["opt_in"] == "single" else "unconfirmed",
                    "list_uid": lst["list_uid"]})
        return sub

    def apply_details(self, sub, details, allowed_statuses):
        if not isinstance(details, dict) or not details:
            return
        st = details.get("status")
        if not php_empty(st) and st in allowed_statuses:
            sub["status"] = st
        ip = details.get("ip_address")
        if not php_empty(ip) and re.fullmatch(r"[0-9a-fA-F.:]+", str(ip)):
            sub["ip_address"] = str(ip)
        src = details.get("source")
        if not php_empty(src) and src in SOURCES:
            sub["source"] = src

    @staticmethod
    def field_value(value):
        if isinstance(value, dict):
            vals = list(dict.fromkeys(php_str(v)[:255] for v in value.values()))
            return ", ".join(vals)
        return php_str(value)[:255]

    @staticmethod
    def public_record(sub):
        return {k: sub[k] for k in ("subscriber_uid", "email", "ip_address", "source", "date_added")}

    def state(self, summary=False):
        lists = {}
        for uid, lst in self.lists.items():
            subs = sorted(self.subscribers[uid].values(), key=lambda s: s["subscriber_id"])
            lists[uid] = dict(lst, subscriber_count=len(subs))
            if not summary:
                lists[uid]["subscribers"] = [
                    {k: v for k, v in s.items() if k != "list_uid"} for s in subs]
        campaigns = {uid: dict(c, unsubscribes=len(self.unsubscribes[uid]), bounces=len(self.bounces[uid]))
                     for uid, c in self.campaigns.items()}
        return {"lists": lists, "blacklist": sorted(self.blacklist), "campaigns": campaigns,
                "requests": dict(sorted(self.requests.items())),
                "responses": dict(sorted(self.responses.items())),
                "faults_injected": self.faults_injected, "log": self.log[-1000:],
                "config": self.config()}

    def config(self):
        return {"seed": self.seed, "max_input_vars": self.max_input_vars,
                "post_max_size": self.post_max_size, "fixed_time": self.fixed_time,
                "customer_timezone": self.customer_timezone,
                "faults": dict(self.faults), "fail_next": dict(self.fail_next),
                "lists": sorted(self.lists)}

    # -- control ------------------------------------------------------------
    def control(self, body):
        if not isinstance(body, dict):
            raise ValueError("control body must be a JSON object")
        known = {"reset", "seed", "faults", "fail_next", "lists", "subscribers", "blacklist",
                 "max_input_vars", "post_max_size", "fixed_time", "clear_faults", "customer_timezone",
                 "campaigns", "campaign_unsubscribes", "campaign_bounces"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown control keys: {sorted(unknown)}")
        if "seed" in body:
            self.seed = body["seed"]
        if body.get("reset"):
            self.reset_data()
        elif "seed" in body:
            self.rng = random.Random(f"{self.seed}:faults")
            self.uid_rng = random.Random(f"{self.seed}:uids")
        if body.get("clear_faults") or body.get("reset"):
            self.faults = {"p503": 0.0, "p5xx": 0.0, "p_mutex": 0.0, "p_lost_reply": 0.0,
                           "delay": 0.0, "endpoints": None}
            self.fail_next = {"count": 0, "code": 503, "endpoints": None}
        for k, v in (body.get("faults") or {}).items():
            if k not in self.faults:
                raise ValueError(f"unknown fault {k!r}")
            if k == "endpoints":
                self.faults[k] = list(v) if v else None
            else:
                v = float(v)
                if v < 0 or (k != "delay" and v > 1):
                    raise ValueError(f"fault {k} out of range: {v}")
                self.faults[k] = v
        if "fail_next" in body:
            fn = body["fail_next"]
            code = int(fn.get("code", 503))
            if not 100 <= code <= 599:
                raise ValueError("fail_next.code must be an HTTP status")
            self.fail_next = {"count": int(fn.get("count", 1)), "code": code,
                              "endpoints": list(fn["endpoints"]) if fn.get("endpoints") else None}
        for k in ("max_input_vars", "post_max_size"):
            if k in body:
                setattr(self, k, int(body[k]))
        if "fixed_time" in body:
            self.fixed_time = body["fixed_time"] or None
        if "customer_timezone" in body:
            ZoneInfo(body["customer_timezone"])  # an unknown zone is a 400
            self.customer_timezone = body["customer_timezone"]
        for spec in body.get("lists") or []:
            self.add_list(spec)
        for email in body.get("blacklist") or []:
            self.blacklist.add(email_key(email))
        for spec in body.get("subscribers") or []:
            lst = self.lists[spec["list_uid"]]
            email = spec["email"]
            existing = self.find_by_email(lst["list_uid"], email)
            sub = self.create_or_revive(lst, existing, email, spec.get("ip_address", "127.0.0.1"))
            sub["status"] = spec.get("status", sub["status"])
            sub["source"] = spec.get("source", "import")
            if "date_added" in spec:
                sub["date_added"] = spec["date_added"]
            for tag, value in (spec.get("fields") or {}).items():
                sub["fields"][tag] = self.field_value(value)
            self.store(lst["list_uid"], sub)
        for spec in body.get("campaigns") or []:
            self.add_campaign(spec)
        for spec in body.get("campaign_unsubscribes") or []:
            self.track_unsubscribe(spec)
        for spec in body.get("campaign_bounces") or []:
            self.log_bounce(spec)
        return self.config()

    # -- campaigns ------------------------------------------------------------
    def new_campaign_uid(self):
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            uid = "".join(self.uid_rng.choice(alphabet) for _ in range(13))
            if uid not in self.campaigns:
                return uid

    def add_campaign(self, spec):
        """A campaign made outside the API (the UI): control key `campaigns`."""
        lst = self.lists[spec["list_uid"]]
        uid = spec.get("campaign_uid") or self.new_campaign_uid()
        self.campaigns[uid] = {
            "campaign_uid": uid, "campaign_id": self.next_campaign_id, "name": spec.get("name", uid),
            "type": spec.get("type", "regular"), "status": spec.get("status", "sent"),
            "from_name": spec.get("from_name", lst["from_name"]), "from_email": spec.get("from_email", lst["from_email"]),
            "to_name": spec.get("to_name", "[EMAIL]"), "reply_to": spec.get("reply_to", lst["from_email"]),
            "subject": spec.get("subject", ""), "list_uid": lst["list_uid"], "segment_uid": spec.get("segment_uid"),
            "send_at": spec.get("send_at", self.now()), "send_at_utc": spec.get("send_at", self.now()),
            "date_added": self.now(), "template": {"content": spec.get("content", ""), "plain_text": ""},
            "options": {}}
        self.next_campaign_id += 1
        self.unsubscribes.setdefault(uid, [])
        self.bounces.setdefault(uid, [])
        return uid

    def campaign_subscriber(self, spec):
        camp = self.campaigns[spec["campaign_uid"]]
        sub = self.find_by_email(camp["list_uid"], spec["email"])
        if sub is None:
            raise ValueError(f"{spec['email']} is not in the campaign's list {camp['list_uid']}")
        return camp, sub

    def track_unsubscribe(self, spec):
        """A subscriber who used the campaign's unsubscribe link (CampaignTrackUnsubscribe): the
        row is logged and the subscriber becomes unsubscribed in the list, as MailWizz does."""
        camp, sub = self.campaign_subscriber(spec)
        self.unsubscribes[camp["campaign_uid"]].append({
            "id": self.next_log_id, "ip_address": spec.get("ip_address", "127.0.0.1"),
            "user_agent": spec.get("user_agent", "Mozilla/5.0"), "reason": spec.get("reason", ""),
            "note": spec.get("note", ""), "date_added": spec.get("date_added", self.now()),
            "subscriber_uid": sub["subscriber_uid"]})
        self.next_log_id += 1
        sub["status"] = "unsubscribed"

    def log_bounce(self, spec):
        """A bounce MailWizz's bounce processor logged (CampaignBounceLog); hard also blacklists."""
        camp, sub = self.campaign_subscriber(spec)
        bounce_type = spec.get("bounce_type", "hard")
        if bounce_type not in BOUNCE_TYPES:
            raise ValueError(f"bounce_type must be one of {BOUNCE_TYPES}")
        self.bounces[camp["campaign_uid"]].append({
            "log_id": self.next_log_id, "message": spec.get("message", "BOUNCED BACK")[:250],
            "processed": spec.get("processed", "no"), "bounce_type": bounce_type,
            "subscriber_uid": sub["subscriber_uid"]})
        self.next_log_id += 1
        if bounce_type == "hard":
            sub["status"] = "blacklisted"
            self.blacklist.add(email_key(sub["email"]))

    def subscriber_by_uid(self, sub_uid):
        for subs in self.subscribers.values():
            if sub_uid in subs:
                return subs[sub_uid]
        return None


# ---------------------------------------------------------------------------
# Routing (the 2.3.9 urlManager rules for what the double implements)
# ---------------------------------------------------------------------------

U = r"([a-z0-9]+)"
ROUTES = [
    ("GET", r"lists", "lists/index"),
    ("GET", rf"lists/{U}", "lists/view"),
    ("GET", rf"lists/{U}/subscribers", "list_subscribers/index"),
    ("POST", rf"lists/{U}/subscribers", "list_subscribers/create"),
    ("POST", rf"lists/{U}/subscribers/bulk", "list_subscribers/create_bulk"),
    ("PUT", rf"lists/{U}/subscribers/{U}/unsubscribe", "list_subscribers/unsubscribe"),
    ("PUT", rf"lists/{U}/subscribers/{U}", "list_subscribers/update"),
    ("DELETE", rf"lists/{U}/subscribers/{U}", "list_subscribers/delete"),
    ("GET", rf"lists/{U}/subscribers/{U}", "list_subscribers/view"),
    ("GET", rf"lists/{U}/subscribers/search-by-email", "list_subscribers/search_by_email"),
    ("PUT", r"lists/subscribers/unsubscribe-by-email-from-all-lists",
     "list_subscribers/unsubscribe_by_email_from_all_lists"),
    ("GET", rf"campaigns/{U}/unsubscribes", "campaign_unsubscribes/index"),
    ("GET", rf"campaigns/{U}/bounces", "campaign_bounces/index"),
    ("POST", rf"campaigns/{U}/bounces", "campaign_bounces/create"),
    ("GET", r"campaigns", "campaigns/index"),
    ("POST", r"campaigns", "campaigns/create"),
    ("GET", rf"campaigns/{U}", "campaigns/view"),
]
ROUTES = [(m, re.compile(p + r"/?"), a) for m, p, a in ROUTES]


class Reply(Exception):
    def __init__(self, code, body, content_type="application/json"):
        super().__init__(code)
        self.code, self.body, self.content_type = code, body, content_type


def error(code, msg):
    return Reply(code, {"status": "error", "error": msg})


def html_error(code, text):
    body = f"<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n" \
           f"<center><h1>{code} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n" \
           "</body>\r\n</html>\r\n"
    return Reply(code, body, "text/html")


FAULT_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
              504: "Gateway Time-out"}


def fault_reply(code):
    """The reply for an injected status: MailWizz's own JSON for 503/409/500, a proxy's
    HTML page for the gateway errors that a real deployment shows."""
    if code == 503:
        return error(503, MSG["offline"])
    if code == 409:
        return error(409, MSG["mutex"])
    if code in (502, 504):
        return html_error(code, FAULT_TEXT[code])
    return error(code, FAULT_TEXT.get(code, "Internal Server Error."))


class Request:
    """What the PHP controllers see: $_GET, $_POST, PUT params and the verbs."""

    def __init__(self, dbl, method, query, headers, body, client_ip):
        self.real_method = method
        self.headers = headers
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.get = php_build_vars(php_parse_pairs(query, dbl.max_input_vars))
        self.post = {}
        self.put = {}
        too_big = dbl.post_max_size and len(body) > dbl.post_max_size
        text = body.decode("utf-8", "replace")
        if method == "POST" and ctype == "application/x-www-form-urlencoded" and not too_big:
            # PHP fills $_POST only for form bodies (multipart is not emulated).
            self.post = php_build_vars(php_parse_pairs(text, dbl.max_input_vars))
        elif method in ("PUT", "DELETE"):
            if "json" in ctype:
                try:
                    parsed = json.loads(text) if text.strip() else {}
                except ValueError:
                    parsed = {}
                self.put = {str(k): v for k, v in parsed.items()} if isinstance(parsed, dict) else {}
            else:
                self.put = php_build_vars(php_parse_pairs(text, dbl.max_input_vars))
        # Yii: the route verb honours _method and X-HTTP-Method-Override, but getIsPutRequest()
        # only trusts the real verb or a POSTed _method=PUT.
        override = self.post.get("_method") if method == "POST" else None
        self.route_method = (php_str(override).upper() if override else
                             (headers.get("X-HTTP-Method-Override") or method).upper())
        self.is_put = method == "PUT" or (override is not None and php_str(override).upper() == "PUT")
        self.is_post = method == "POST"
        self.is_delete = method == "DELETE" or (override is not None and php_str(override).upper() == "DELETE")
        self.ip = headers.get("X-MW-REMOTE-ADDR") or headers.get("X-REMOTE-ADDR") or client_ip

    def put_params(self):
        return self.post if (self.real_method == "POST" and self.is_put) else self.put


# ---------------------------------------------------------------------------
# Controllers
# ---------------------------------------------------------------------------


def php_int(value, default):
    """PHP's (int) cast of a query parameter: leading digits count, anything else is 0."""
    if value is None:
        return default
    m = re.match(r"\s*([+-]?[0-9]+)", php_str(value))
    return int(m.group(1)) if m else 0


def paginate(req, items):
    per_page = min(max(php_int(req.get.get("per_page"), 10), 10), 1000)
    page = max(php_int(req.get.get("page"), 1), 1)
    data = {"count": None, "total_pages": None, "current_page": None, "next_page": None,
            "prev_page": None, "records": []}
    if not items:
        return data, []
    total_pages = float(-(-len(items) // per_page))  # PHP ceil() gives a float
    # Yii's count() comes back from PDO as a string: decode leniently.
    data.update({"count": str(len(items)), "current_page": page,
                 "next_page": page + 1 if page < total_pages else None,
                 "prev_page": page - 1 if page > 1 else None, "total_pages": total_pages})
    return data, items[(page - 1) * per_page: page * per_page]


def require_list(dbl, uid):
    lst = dbl.lists.get(uid)
    if lst is None:
        raise error(404, MSG["no_list"])
    return lst


def lists_index(dbl, req):
    lists = sorted(dbl.lists.values(), key=lambda l: l["list_uid"], reverse=True)
    data, page = paginate(req, lists)
    data["records"] = [list_record(l) for l in page]
    return 200, {"status": "success", "data": data}


def list_record(lst):
    return {"general": {k: lst[k] for k in ("list_uid", "name", "display_name", "description")},
            "defaults": {"from_email": lst["from_email"], "from_name": lst["from_name"],
                         "reply_to": lst["from_email"], "subject": ""},
            "notifications": {"subscribe": "no", "unsubscribe": "no", "subscribe_to": "",
                              "unsubscribe_to": ""},
            "company": {"name": "mailpipe test", "address_1": "1 Test Street", "address_2": "",
                        "zone_name": "", "city": "Testville", "zip_code": "00000", "phone": "",
                        "address_format": "", "country": {"country_id": "1", "name": "France",
                                                          "code": "FR"}}}


def lists_view(dbl, req, uid):
    lst = dbl.lists.get(uid)
    if lst is None:
        raise error(404, "The list does not exist.")
    return 200, {"status": "success", "data": {"record": list_record(lst)}}


def subscriber_row(lst, sub):
    row = {"subscriber_uid": sub["subscriber_uid"]}
    for f in lst["fields"]:
        row[f["tag"]] = sub["email"] if f["tag"] == "EMAIL" else sub["fields"].get(f["tag"], "")
    row.update({"status": sub["status"], "source": sub["source"],
                "ip_address": sub["ip_address"], "date_added": sub["date_added"]})
    return row


def subscribers_index(dbl, req, uid):
    lst = require_list(dbl, uid)
    subs = sorted(dbl.subscribers[uid].values(), key=lambda s: s["subscriber_id"], reverse=True)
    status = req.get.get("status")
    if not php_empty(status) and status in STATUSES:
        subs = [s for s in subs if s["status"] == status]
    data, page = paginate(req, subs)
    data["records"] = [subscriber_row(lst, s) for s in page]
    return 200, {"status": "success", "data": data}


def subscribers_view(dbl, req, uid, sub_uid):
    lst = require_list(dbl, uid)
    sub = dbl.subscribers[uid].get(sub_uid)
    if sub is None:
        raise error(404, MSG["no_subscriber"])
    row = subscriber_row(lst, sub)
    del row["date_added"]
    return 200, {"status": "success", "data": {"record": row}}


def subscribers_create(dbl, req, uid):
    if not req.is_post:
        raise error(400, "Only POST requests allowed for this endpoint.")
    email = php_str(req.post.get("EMAIL", ""))
    if php_empty(email):
        raise error(422, MSG["no_email"])
    if not valid_email(email):
        raise error(422, MSG["bad_email"])
    lst = require_list(dbl, uid)
    existing = dbl.find_by_email(uid, email)
    if existing and existing["status"] != "unsubscribed":
        raise error(409, MSG["exists"])
    if email_key(email) in dbl.blacklist:
        raise error(409, MSG["blacklisted"])
    errors = {f["tag"]: MSG["required"].replace("{field}", f["tag"])
              for f in lst["fields"] if f["required"] and php_empty(req.post.get(f["tag"]))}
    if errors:
        raise error(422, errors)
    sub = dbl.create_or_revive(lst, existing, email, req.ip)
    dbl.apply_details(sub, req.post.get("details"), DETAIL_STATUSES)
    if sub["status"] == "blacklisted":
        dbl.blacklist.add(email_key(email))
    for f in lst["fields"]:
        if f["tag"] != "EMAIL":
            sub["fields"][f["tag"]] = dbl.field_value(req.post.get(f["tag"], f["default"]))
    dbl.store(uid, sub)
    return 201, {"status": "success", "data": {"record": dbl.public_record(sub)}}


def subscribers_bulk(dbl, req, uid):
    if not req.is_post:
        raise error(400, "Only POST requests allowed for this endpoint.")
    lst = require_list(dbl, uid)
    items = req.post.get("subscribers")
    if php_empty(items) or not isinstance(items, dict):
        raise error(422, MSG["no_list_items"])
    out = []
    for item in list(items.values())[:10000]:
        if not isinstance(item, dict):
            item = {}
        details = item.get("details") if isinstance(item.get("details"), dict) else {}
        entry = {"data": {"details": details}, "errors": {}}
        email = item.get("EMAIL")
        if php_empty(email) or not valid_email(php_str(email)):
            entry["data"] = item
            entry["errors"] = {"EMAIL": MSG["bad_email"]}
            out.append(entry)
            continue
        for f in lst["fields"]:
            value = item.get(f["tag"])
            entry["data"][f["tag"]] = value
            if f["required"] and php_empty(value):
                entry["errors"][f["tag"]] = MSG["required"].replace("{field}", f["tag"])
        out.append(entry)
    for entry in out:
        if entry["errors"]:
            continue
        data = entry["data"]
        email = php_str(data["EMAIL"])
        existing = dbl.find_by_email(uid, email)
        if existing and existing["status"] != "unsubscribed":
            entry["errors"] = {"EMAIL": MSG["exists"]}
            continue
        if email_key(email) in dbl.blacklist:
            entry["errors"] = {"EMAIL": MSG["blacklisted"]}
            continue
        sub = dbl.create_or_revive(lst, existing, email, req.ip)
        dbl.apply_details(sub, data["details"], DETAIL_STATUSES)
        if sub["status"] == "blacklisted":
            dbl.blacklist.add(email_key(email))
        for f in lst["fields"]:
            if f["tag"] != "EMAIL":
                value = data.get(f["tag"])
                sub["fields"][f["tag"]] = dbl.field_value(value if not php_empty(value) else f["default"])
        dbl.store(uid, sub)
        data["subscriber_uid"] = sub["subscriber_uid"]
    for entry in out:
        if isinstance(entry["data"], dict):
            entry["data"].pop("details", None)
        if not entry["errors"]:
            del entry["errors"]
    return 201, {"status": "success", "data": {"records": out}}


def subscribers_search(dbl, req, uid):
    email = req.get.get("EMAIL")
    if php_empty(email):
        raise error(422, MSG["no_email"])
    if not valid_email(php_str(email)):
        raise error(422, MSG["bad_email"])
    require_list(dbl, uid)
    sub = dbl.find_by_email(uid, php_str(email))
    if sub is None:
        raise error(404, MSG["no_subscriber"])
    return 200, {"status": "success", "data": {k: sub[k] for k in ("subscriber_uid", "status", "date_added")}}


def subscribers_update(dbl, req, uid, sub_uid):
    if not req.is_put:
        raise error(400, "Only PUT requests allowed for this endpoint.")
    params = req.put_params()
    lst = require_list(dbl, uid)
    sub = dbl.subscribers[uid].get(sub_uid)
    if sub is None:
        raise error(409, MSG["no_subscriber"])  # 409, not 404, in the real API
    email = php_str(params.get("EMAIL", ""))
    if php_empty(email):
        email = sub["email"]
    if not valid_email(email):
        raise error(422, MSG["bad_email"])
    errors = {f["tag"]: MSG["required"].replace("{field}", f["tag"])
              for f in lst["fields"]
              if f["tag"] != "EMAIL" and f["required"] and php_empty(params.get(f["tag"]))}
    if errors:
        raise error(422, errors)
    other = dbl.find_by_email(uid, email)
    if other is not None and other["subscriber_uid"] != sub_uid:
        raise error(409, MSG["exists_other"])
    if email_key(email) in dbl.blacklist:
        raise error(409, MSG["blacklisted"])
    old_key = email_key(sub["email"])
    sub["email"] = email
    dbl.apply_details(sub, params.get("details"), STATUSES[:5])
    if sub["status"] == "blacklisted":
        dbl.blacklist.add(email_key(email))
    for f in lst["fields"]:
        if f["tag"] != "EMAIL" and params.get(f["tag"]) is not None:
            sub["fields"][f["tag"]] = dbl.field_value(params[f["tag"]])
    dbl.by_email[uid].pop(old_key, None)
    dbl.store(uid, sub)
    return 200, {"status": "success", "data": {"record": dbl.public_record(sub)}}


def subscribers_unsubscribe(dbl, req, uid, sub_uid):
    if not req.is_put:
        raise error(400, "Only PUT requests allowed for this endpoint.")
    require_list(dbl, uid)
    sub = dbl.subscribers[uid].get(sub_uid)
    if sub is None:
        raise error(404, MSG["no_subscriber"])
    # An unconfirmed (or otherwise not confirmed) subscriber: success, nothing changes.
    if sub["status"] == "confirmed":
        sub["status"] = "unsubscribed"
    return 200, {"status": "success"}


def subscribers_delete(dbl, req, uid, sub_uid):
    if not req.is_delete:
        raise error(400, "Only DELETE requests allowed for this endpoint.")
    require_list(dbl, uid)
    sub = dbl.subscribers[uid].pop(sub_uid, None)
    if sub is None:
        raise error(404, MSG["no_subscriber"])
    dbl.by_email[uid].pop(email_key(sub["email"]), None)
    # The schema's foreign keys cascade: the subscriber's campaign unsubscribe and bounce rows go too.
    for logs in (dbl.unsubscribes, dbl.bounces):
        for rows in logs.values():
            rows[:] = [r for r in rows if r["subscriber_uid"] != sub_uid]
    return 200, {"status": "success"}


def unsubscribe_all_lists(dbl, req):
    if not req.is_put:
        raise error(400, "Only PUT requests allowed for this endpoint.")
    email = req.put_params().get("EMAIL")
    if php_empty(email):
        raise error(422, MSG["no_email"])
    if not valid_email(php_str(email)):
        raise error(422, MSG["bad_email"])
    for uid in dbl.lists:
        sub = dbl.find_by_email(uid, php_str(email))
        if sub is not None:
            sub["status"] = "unsubscribed"
    return 200, {"status": "success"}


def campaign_paginate(req, items):
    """Campaign endpoints clamp per_page to 10–1000 as the lists' do, and `count` comes back
    as PDO's string."""
    per_page = min(max(php_int(req.get.get("per_page"), 10), 10), 1000)
    page = max(php_int(req.get.get("page"), 1), 1)
    data = {"count": None, "total_pages": None, "current_page": None, "next_page": None,
            "prev_page": None, "records": []}
    if not items:
        return data, []
    total_pages = float(-(-len(items) // per_page))
    data.update({"count": str(len(items)), "current_page": page,
                 "next_page": page + 1 if page < total_pages else None,
                 "prev_page": page - 1 if page > 1 else None, "total_pages": total_pages})
    return data, items[(page - 1) * per_page: page * per_page]


def require_campaign(dbl, uid, bang=False):
    camp = dbl.campaigns.get(uid)
    if camp is None:
        raise error(404, MSG["no_campaign_bang" if bang else "no_campaign"])
    return camp


def campaigns_index(dbl, req):
    camps = sorted(dbl.campaigns.values(), key=lambda c: c["campaign_id"], reverse=True)
    # `list_uid` keeps the list's campaigns (an unknown list matches none: list_id 0).
    list_uid = req.get.get("list_uid")
    if not php_empty(list_uid):
        camps = [c for c in camps if c["list_uid"] == php_str(list_uid)]
    data, page = campaign_paginate(req, camps)
    data["records"] = [{"campaign_uid": c["campaign_uid"], "campaign_id": c["campaign_id"], "type": c["type"], "name": c["name"],
                        "status": c["status"], "group": []} for c in page]
    return 200, {"status": "success", "data": data}


def campaigns_view(dbl, req, uid):
    c = require_campaign(dbl, uid)
    lst = dbl.lists[c["list_uid"]]
    record = {k: c[k] for k in ("campaign_uid", "campaign_id", "name", "type", "from_name", "from_email", "to_name",
                                "reply_to", "subject", "status")}
    confirmed = sum(1 for s in dbl.subscribers[c["list_uid"]].values() if s["status"] == "confirmed")
    record.update({"date_added": c["date_added"], "send_at": c["send_at"],
                   "list": {"list_uid": lst["list_uid"], "name": lst["name"], "subscribers_count": confirmed},
                   "segment": {}, "group": []})
    if c["segment_uid"]:
        record["segment"] = {"segment_uid": c["segment_uid"], "name": c["segment_uid"], "subscribers_count": 0}
    return 200, {"status": "success", "data": {"record": record}}


CAMPAIGN_LABELS = {"name": "Name", "from_name": "From name", "from_email": "From email",
                   "subject": "Subject", "reply_to": "Reply to", "to_name": "To name", "send_at": "Send at"}
EMAIL_TAG_RE = re.compile(r"^\[[A-Z0-9_]+\]$")


def campaigns_create(dbl, req):
    if not req.is_post:
        raise error(400, "Only POST requests allowed for this endpoint.")
    attrs = req.post.get("campaign")
    attrs = attrs if isinstance(attrs, dict) else {}
    # CampaignsController::_setValidationRules, reported as shortErrors (first message per field).
    errors = {}
    for field in ("name", "from_name", "from_email", "subject", "reply_to", "to_name", "send_at"):
        if php_empty(attrs.get(field)) and field not in errors:
            errors[field] = f"{CAMPAIGN_LABELS[field]} cannot be blank."
    for field, limit in (("name", 255), ("to_name", 255), ("subject", 255), ("from_name", 100),
                         ("reply_to", 100), ("from_email", 100)):
        if field not in errors and len(php_str(attrs.get(field))) > limit:
            errors[field] = f"{CAMPAIGN_LABELS[field]} is too long (maximum is {limit} characters)."
    for field in ("reply_to", "from_email"):
        value = php_str(attrs.get(field))
        if field not in errors and not (valid_email(value) or EMAIL_TAG_RE.match(value)):
            errors[field] = f"{CAMPAIGN_LABELS[field]} is not a valid email address."
    send_at = php_str(attrs.get("send_at"))
    if "send_at" not in errors:
        try:
            local = datetime.strptime(send_at, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            errors["send_at"] = f"The format of {CAMPAIGN_LABELS['send_at']} is invalid."
    if errors:
        raise error(422, errors)
    if php_empty(attrs.get("list_uid")):
        raise error(422, MSG["campaign_no_list"])
    lst = dbl.lists.get(php_str(attrs["list_uid"]))
    if lst is None:
        raise error(422, MSG["campaign_bad_list"])
    segment = attrs.get("segment_uid")
    if not php_empty(segment) and php_str(segment) not in lst.get("segments", []):
        raise error(422, MSG["campaign_bad_segment"])
    tpl = attrs.get("template") if isinstance(attrs.get("template"), dict) else {}
    if not php_empty(tpl.get("template_uid")):
        raise error(422, MSG["campaign_bad_template"])  # no customer templates in the double
    content = ""
    if not php_empty(tpl.get("content")):
        content = base64.b64decode(php_str(tpl["content"]) + "==", validate=False).decode("utf-8", "replace")
    if not content:
        raise error(422, MSG["campaign_no_template"])
    options = attrs.get("options") if isinstance(attrs.get("options"), dict) else {}
    plain = ""
    if not php_empty(tpl.get("plain_text")) and options.get("plain_text_email", "yes") == "yes":
        plain = base64.b64decode(php_str(tpl["plain_text"]) + "==").decode("utf-8", "replace")
    # "the date is already in customer timezone we need to convert it back to utc"
    utc = local.replace(tzinfo=ZoneInfo(dbl.customer_timezone)).astimezone(timezone.utc)
    status = php_str(attrs.get("status")) if php_str(attrs.get("status")) in CAMPAIGN_STATUSES else "pending-sending"
    uid = dbl.new_campaign_uid()
    dbl.campaigns[uid] = {
        "campaign_uid": uid, "campaign_id": dbl.next_campaign_id, "name": php_str(attrs["name"]),
        "type": php_str(attrs.get("type")) if php_str(attrs.get("type")) in ("regular", "autoresponder") else "regular",
        "status": status, "from_name": php_str(attrs["from_name"]), "from_email": php_str(attrs["from_email"]),
        "to_name": php_str(attrs["to_name"]), "reply_to": php_str(attrs["reply_to"]),
        "subject": php_str(attrs["subject"]), "list_uid": lst["list_uid"],
        "segment_uid": php_str(segment) if not php_empty(segment) else None,
        "send_at": send_at, "send_at_utc": utc.strftime("%Y-%m-%d %H:%M:%S"), "date_added": dbl.now(),
        "template": {"content": content, "plain_text": plain,
                     "name": php_str(tpl.get("name")), "auto_plain_text": php_str(tpl.get("auto_plain_text"))},
        "options": {str(k): php_str(v) for k, v in options.items()}}
    dbl.next_campaign_id += 1
    dbl.unsubscribes[uid] = []
    dbl.bounces[uid] = []
    return 201, {"status": "success", "campaign_uid": uid}


def campaign_log_index(dbl, req, uid, rows, fields):
    """A campaign's unsubscribe or bounce log, newest first (t.id / t.log_id DESC): `fields`
    of each row, then its subscriber's uid and address."""
    require_campaign(dbl, uid, bang=True)
    data, page = campaign_paginate(req, list(reversed(rows)))
    data["records"] = []
    for r in page:
        record = {k: r[k] for k in fields}
        sub = dbl.subscriber_by_uid(r["subscriber_uid"])
        record["subscriber"] = {"subscriber_uid": r["subscriber_uid"], "email": sub["email"]}
        data["records"].append(record)
    return 200, {"status": "success", "data": data}


def campaign_unsubscribes_index(dbl, req, uid):
    return campaign_log_index(dbl, req, uid, dbl.unsubscribes.get(uid, []),
                              ("ip_address", "user_agent", "reason", "note", "date_added"))


def campaign_bounces_index(dbl, req, uid):
    return campaign_log_index(dbl, req, uid, dbl.bounces.get(uid, []), ("message", "processed", "bounce_type"))


def campaign_bounces_create(dbl, req, uid):
    if not req.is_post:
        raise error(400, "Only POST requests allowed for this endpoint.")
    require_campaign(dbl, uid, bang=True)
    sub = dbl.subscriber_by_uid(php_str(req.post.get("subscriber_uid", "")))
    if sub is None:
        raise error(404, MSG["no_subscriber_bang"])
    if any(b["subscriber_uid"] == sub["subscriber_uid"] for b in dbl.bounces[uid]):
        raise error(422, MSG["already_bounced"])
    bounce_type = php_str(req.post.get("bounce_type", "internal"))
    if bounce_type not in BOUNCE_TYPES:
        raise error(422, MSG["bad_bounce_type"])
    message = php_str(req.post.get("message", "BOUNCED BACK"))[:250]
    dbl.log_bounce({"campaign_uid": uid, "email": sub["email"], "bounce_type": bounce_type, "message": message})
    return 201, {"status": "success", "data": {"record": {
        "message": message, "processed": "no", "bounce_type": bounce_type,
        "subscriber": {"subscriber_uid": sub["subscriber_uid"], "email": sub["email"]}}}}


ACTIONS = {
    "campaigns/index": campaigns_index,
    "campaigns/view": campaigns_view,
    "campaigns/create": campaigns_create,
    "campaign_unsubscribes/index": campaign_unsubscribes_index,
    "campaign_bounces/index": campaign_bounces_index,
    "campaign_bounces/create": campaign_bounces_create,
    "lists/index": lists_index,
    "lists/view": lists_view,
    "list_subscribers/index": subscribers_index,
    "list_subscribers/view": subscribers_view,
    "list_subscribers/create": subscribers_create,
    "list_subscribers/create_bulk": subscribers_bulk,
    "list_subscribers/search_by_email": subscribers_search,
    "list_subscribers/update": subscribers_update,
    "list_subscribers/unsubscribe": subscribers_unsubscribe,
    "list_subscribers/delete": subscribers_delete,
    "list_subscribers/unsubscribe_by_email_from_all_lists": unsubscribe_all_lists,
}


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

API_PREFIX = re.compile(r"^/api(?:/index\.php)?(?:/(.*))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, as libcurl expects
    server_version = "mailwizz-double/1"
    sys_version = ""

    def version_string(self):
        return self.server_version
    dbl: Double = None                # set in main()

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.server.verbose:
            sys.stderr.write("mailwizz-double: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, code, body, content_type="application/json", etag=False):
        if isinstance(body, (dict, list)):
            # PHP's json_encode escapes "/" and non-ASCII by default.
            payload = json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()
        else:
            payload = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type}
        if etag and code == 200:
            tag = '"' + hashlib.sha1(payload).hexdigest() + '"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                code, payload = 304, b""
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and code != 304:
            self.wfile.write(payload)
        return code

    def dispatch(self):
        body = self.read_body()  # always drain, so keep-alive stays in sync
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/__state" and self.command == "GET":
            summary = "summary=1" in parts.query.split("&")
            with self.dbl.lock:
                return self.send(200, json.dumps(self.dbl.state(summary), ensure_ascii=False, indent=1))
        if path == "/__control" and self.command == "POST":
            try:
                with self.dbl.lock:
                    cfg = self.dbl.control(json.loads(body or b"{}"))
                return self.send(200, {"status": "success", "config": cfg})
            except (ValueError, KeyError, TypeError) as e:
                return self.send(400, {"status": "error", "error": str(e)})
        if path == "/__shutdown" and self.command == "POST":
            self.send(200, {"status": "success"})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        m = API_PREFIX.match(path)
        if not m:
            return self.send(404, {"status": "error", "error": MSG["no_page"]})
        code = self.api(m.group(1) or "", parts.query, body)
        if self.server.verbose:
            sys.stderr.write(f"mailwizz-double: {self.command} {path} -> {code}\n")
        return None

    def api(self, route_path, query, body):
        dbl = self.dbl
        route_path = route_path.strip("/")
        req = Request(dbl, self.command, query, self.headers, body, self.client_address[0])
        action, params = "unmatched", ()
        for verb, rx, name in ROUTES:
            mm = rx.fullmatch(route_path)
            if mm and verb == req.route_method:
                action, params = name, mm.groups()
                break
        delay = dbl.faults["delay"]
        if delay > 0 and self.applies(dbl.faults["endpoints"], action):
            time.sleep(delay)
        injected = False
        with dbl.lock:
            dbl.requests[action] = dbl.requests.get(action, 0) + 1
            try:
                fault = self.pick_fault(action)
                if fault:
                    injected = True
                    raise fault_reply(fault)
                self.authenticate()
                if action == "unmatched":
                    raise error(404, MSG["no_page"])
                code, out = ACTIONS[action](dbl, req, *params)
                reply = Reply(code, out)
                if action in WRITE_ACTIONS and self.applies(dbl.faults["endpoints"], action) \
                        and dbl.faults["p_lost_reply"] > 0 \
                        and dbl.rng.random() < dbl.faults["p_lost_reply"]:
                    # Processed, but the proxy in front timed out: the client never learns.
                    injected = True
                    reply = html_error(504, FAULT_TEXT[504])
            except Reply as r:
                reply = r
            if injected:
                dbl.faults_injected += 1
            dbl.responses[str(reply.code)] = dbl.responses.get(str(reply.code), 0) + 1
            dbl.log.append({"method": self.command, "action": action, "code": reply.code,
                            "injected": injected})
            if len(dbl.log) > 5000:
                del dbl.log[:1000]
        return self.send(reply.code, reply.body, reply.content_type,
                         etag=self.command == "GET")

    @staticmethod
    def applies(endpoints, action):
        return endpoints is None or action in endpoints

    def pick_fault(self, action):
        """Decide (deterministically for a given seed and request order) whether this
        request fails before it reaches the controller. Returns a status or None."""
        dbl = self.dbl
        fn = dbl.fail_next
        if fn["count"] > 0 and self.applies(fn["endpoints"], action):
            fn["count"] -= 1
            return fn["code"]
        f = dbl.faults
        if not self.applies(f["endpoints"], action):
            return None
        if f["p503"] <= 0 and f["p5xx"] <= 0 and f["p_mutex"] <= 0:
            return None
        r = dbl.rng.random()
        if r < f["p503"]:
            return 503
        r -= f["p503"]
        if r < f["p5xx"]:
            return dbl.rng.choice([500, 502, 504])
        r -= f["p5xx"]
        if action in WRITE_ACTIONS and r < f["p_mutex"]:
            return 409
        return None

    def authenticate(self):
        # X-API-KEY (v2) wins over the legacy X-MW-PUBLIC-KEY. Failures are 400, never 401.
        given = self.headers.get("X-API-KEY")
        if given is None:
            given = self.headers.get("X-MW-PUBLIC-KEY")
        if not given:
            raise error(400, MSG["no_key"])
        if not hmac.compare_digest(given.encode(), self.dbl.key.encode()):
            raise error(400, MSG["bad_key"])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False


def read_key(args):
    if args.key_file:
        with open(args.key_file, encoding="utf-8") as f:
            key = f.read().strip()
    else:
        key = os.environ.get("MAILWIZZ_DOUBLE_KEY", "").strip()
    if not key:
        sys.exit("mailwizz-double: no API key: set MAILWIZZ_DOUBLE_KEY or give --key-file")
    return key


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--pid-file", help="write the process id here")
    ap.add_argument("--key-file", help="file holding the API key (else $MAILWIZZ_DOUBLE_KEY)")
    ap.add_argument("--seed", default="0", help="seed for fault decisions and subscriber uids")
    ap.add_argument("--list", action="append", metavar="UID",
                    help="list uid to create (repeatable; default testlist00001, testlist00002)")
    ap.add_argument("--single-opt-in", action="store_true",
                    help="new subscribers start confirmed (default: double opt-in, unconfirmed)")
    ap.add_argument("--max-input-vars", type=int, default=1000, help="PHP max_input_vars (0 = none)")
    ap.add_argument("--post-max-size", type=int, default=8 * 1024 * 1024,
                    help="PHP post_max_size in bytes; a bigger form body is ignored (0 = none)")
    ap.add_argument("--p503", type=float, default=0.0, help="probability of 503 Service Unavailable.")
    ap.add_argument("--p5xx", type=float, default=0.0, help="probability of a 500/502/504")
    ap.add_argument("--p-mutex", type=float, default=0.0, help="probability of the mutex 409 (writes)")
    ap.add_argument("--p-lost-reply", type=float, default=0.0,
                    help="probability that a write is done but answered 504")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each API reply")
    ap.add_argument("--fixed-time", help="date_added for new subscribers, 'Y-m-d H:i:s'")
    ap.add_argument("--customer-timezone", default="UTC",
                    help="the API customer's time zone: a campaign's send_at is read in it")
    ap.add_argument("--lifetime", type=float, default=0.0,
                    help="stop by itself after this many seconds (0 = never)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    Handler.dbl = Double(args, read_key(args))
    server = Server(("127.0.0.1", args.port), Handler)
    server.verbose = args.verbose
    port = server.server_address[1]
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)  # readers never see a half-written file

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.lifetime > 0:
        timer = threading.Timer(args.lifetime, stop)
        timer.daemon = True
        timer.start()
    print(f"mailwizz-double: listening on http://127.0.0.1:{port}/api", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except OSError:
                pass


if __name__ == "__main__":
    main()
