"""Realistic demo messages for a seed: both channels, six Latin American brands, built in bulk.

Everything is drawn with numpy in whole arrays, so ten million messages take minutes, not hours.
Creation times are drawn first for the whole run and sorted, so the chunks reach the store in
time order and each of DuckDB's row groups covers a short span of days (its zone maps then skip
row groups outside a date range). The other fields are drawn per chunk from a generator seeded
by (seed, chunk number), so a seed always yields the same messages.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, insert, select

from data_access.domain import STATUS_RANK
from data_access.merge import STAGE_COLUMNS, merge_records
from data_access.tables import messages, subaccounts, user_subaccounts, users
from data_access.writes import Transaction, WriteScope, write

CHUNK_ROWS = 250_000
MAX_DAYS = 3_650


class DemoError(ValueError):
    """A demo request that cannot be built (a count or span out of range)."""


# --------------------------------------------------------------------------- the account
# The account's brands, senders, campaigns and texts are data, read from demo/data.json.

DATA_FILE = Path(__file__).with_name("data.json")
_DATA = json.loads(DATA_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Country:
    calling_code: str
    # A mobile number is calling_code + one of the prefixes + `digits` subscriber digits.
    prefixes: tuple[str, ...]
    digits: int
    language: str
    contact_share: float


COUNTRIES = {
    code: Country(
        c["calling_code"], tuple(c["prefixes"]), c["digits"], c["language"], c["contact_share"]
    )
    for code, c in _DATA["countries"].items()
}
COUNTRY_CODES = tuple(COUNTRIES)
# The mobile networks of each country, as Sinch's delivery reports name them.
OPERATORS = {code: tuple(c["operators"]) for code, c in _DATA["countries"].items()}


@dataclass(frozen=True)
class DemoSubaccount:
    name: str
    country: str
    share: float  # of all messages
    whatsapp: float  # share of its messages on WhatsApp
    wa_error: float
    sms_error: float
    read_rate: float  # of delivered WhatsApp messages
    correlation_prefix: str


SUBACCOUNTS = tuple(DemoSubaccount(**s) for s in _DATA["subaccounts"])

# Senders: (username, index of their subaccount).
USERS = tuple((u["username"], u["subaccount"]) for u in _DATA["users"])

# Campaigns: (name, subaccount index, channel, template). `{name}` becomes the contact's first
# name and `{num}` an order, invoice or appointment number; `{name}` always comes first.
CAMPAIGNS = tuple(
    (c["name"], c["subaccount"], c["channel"], c["template"]) for c in _DATA["campaigns"]
)


# A campaign's WhatsApp template: its name as a business registers one (lowercase, digits and
# underscores).
def template_name(campaign: str) -> str:
    plain = unicodedata.normalize("NFKD", campaign).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


CAMPAIGN_TEMPLATES = tuple(template_name(c[0]) for c in CAMPAIGNS)
# The template of the WhatsApp templates sent outside campaigns, by language.
DIRECT_TEMPLATES: dict[str, str] = _DATA["direct_templates"]

# Messages sent outside any campaign, by (language, channel).
TRANSACTIONAL = {(t["language"], t["channel"]): tuple(t["texts"]) for t in _DATA["transactional"]}

REPLIES = {language: tuple(texts) for language, texts in _DATA["replies"].items()}

# Captions, file names and the like of WhatsApp messages that are not plain text, by language
# and content type; a type not listed (audio, sticker) carries no text.
MEDIA_TEXT = {
    language: {kind: tuple(texts) for kind, texts in by_kind.items()}
    for language, by_kind in _DATA["media_text"].items()
}


def _errors(rows: list[dict]) -> tuple[tuple[str, str, int, bool], ...]:
    return tuple((e["code"], e["description"], e["weight"], e["taken"]) for e in rows)


# (code, description as the channel gives it, weight, whether the channel had taken it).
WHATSAPP_ERRORS = _errors(_DATA["whatsapp_errors"])
SMS_ERRORS = _errors(_DATA["sms_errors"])

FIRST_NAMES = {language: tuple(names) for language, names in _DATA["first_names"].items()}
LAST_NAMES = {language: tuple(names) for language, names in _DATA["last_names"].items()}

# content type -> weight, for MT in a campaign ("campaign"), MT outside campaigns ("direct") and
# MO replies ("reply")
WHATSAPP_CONTENT: dict[str, dict[str, int]] = _DATA["whatsapp_content"]

WEEKDAY_WEIGHT = np.array(_DATA["weekday_weight"])  # Monday first
HOUR_WEIGHT = np.array(_DATA["hour_weight"])


# --------------------------------------------------------------------------- helpers

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on 64-bit integers, so distinct inputs stay distinct."""
    z = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hex16(values: np.ndarray) -> np.ndarray:
    """Sixteen lower-case hex digits per 64-bit value, built without a Python loop."""
    big_endian = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    nibbles = np.empty((len(values), 16), dtype=np.uint8)
    nibbles[:, 0::2] = big_endian >> 4
    nibbles[:, 1::2] = big_endian & 0x0F
    return _HEX[nibbles].view("S16").ravel().astype("U16").astype(object)


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    return pd.Series(values, dtype="int64").astype(str).str.zfill(width).to_numpy(dtype=object)


def _pick(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _pick_in_groups(rng: np.random.Generator, group: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """An index, uniform within each row's group, into that group's list of `sizes[group]`."""
    return np.floor(rng.random(len(group)) * sizes[group]).astype(np.int64)


@dataclass(frozen=True)
class _Templates:
    """Templates split at their `{name}` and `{num}` slots, ready to be filled in bulk."""

    head: np.ndarray
    middle: np.ndarray
    tail: np.ndarray
    has_name: np.ndarray
    has_num: np.ndarray

    @classmethod
    def of(cls, texts) -> _Templates:
        head, middle, tail, has_name, has_num = [], [], [], [], []
        for text in texts:
            before, name_slot, rest = text.partition("{name}")
            if not name_slot:
                before, rest = "", text
            between, num_slot, after = rest.partition("{num}")
            if not num_slot:
                between, after = rest, ""
            head.append(before)
            middle.append(between)
            tail.append(after)
            has_name.append(bool(name_slot))
            has_num.append(bool(num_slot))
        return cls(
            np.array(head, dtype=object),
            np.array(middle, dtype=object),
            np.array(tail, dtype=object),
            np.array(has_name),
            np.array(has_num),
        )

    def fill(self, which: np.ndarray, names: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        name_part = np.where(self.has_name[which], names, "")
        num_part = np.where(self.has_num[which], numbers, "")
        return self.head[which] + name_part + self.middle[which] + num_part + self.tail[which]


def _catalogue(groups: Sequence[Sequence]) -> tuple[np.ndarray, np.ndarray, list]:
    """Flatten lists of items into one list with each group's offset and size."""
    sizes = np.array([len(items) for items in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return offsets, sizes, [item for items in groups for item in items]


# --------------------------------------------------------------------------- creation times


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def creation_times(
    count: int, days: int, now: datetime, timezone: str, rng: np.random.Generator
) -> np.ndarray:
    """Sorted UTC creation times (int64 microseconds) over the last `days` local days up to now.

    Hour slots of the local calendar are weighted by weekday and hour of day, with some day to
    day noise and a slow growth; slots after `now` get nothing and the current one is cut at
    `now`, so no message is created in the future.
    """
    zone = ZoneInfo(timezone)
    now_local = now.astimezone(zone)
    first_day = now_local.date() - timedelta(days=days - 1)
    local_hours = pd.date_range(
        pd.Timestamp(first_day), periods=days * 24, freq="h", unit="us"
    )  # naive local wall-clock hours
    # A wall-clock hour that does not exist (DST gap) starts at the gap's end; a repeated one is
    # taken at its first occurrence.
    starts = (
        local_hours.tz_localize(
            timezone, ambiguous=np.ones(len(local_hours), dtype=bool), nonexistent="shift_forward"
        )
        .tz_convert("UTC")
        .tz_localize(None)
        .as_unit("us")
        .asi8
    )
    now_us = _epoch_us(now)
    length = np.clip(now_us - starts, 0, 3_600_000_000)
    day_number = np.arange(days * 24) // 24
    weekday = local_hours.day_of_week.to_numpy()
    hour = local_hours.hour.to_numpy()
    day_noise = rng.lognormal(0.0, 0.12, size=days)[day_number]
    growth = 1.0 + 0.25 * day_number / max(days - 1, 1)
    weight = WEEKDAY_WEIGHT[weekday] * HOUR_WEIGHT[hour] * day_noise * growth
    weight = weight * (length / 3_600_000_000)
    if weight.sum() <= 0:
        raise DemoError("There is no time before now to place messages in.")
    per_slot = rng.multinomial(count, weight / weight.sum())
    slot = np.repeat(np.arange(len(starts)), per_slot)
    offsets = np.floor(rng.random(count) * length[slot]).astype(np.int64)
    times = starts[slot] + offsets
    times.sort()
    return times


# --------------------------------------------------------------------------- one chunk


@dataclass(frozen=True)
class _Account:
    """The account's fixed catalogues as arrays, built once per run."""

    timezone: str
    contacts_per_country: np.ndarray
    contact_start: np.ndarray

    @classmethod
    def for_run(cls, count: int, timezone: str) -> _Account:
        total = max(60, count // 4)
        shares = np.array([COUNTRIES[c].contact_share for c in COUNTRY_CODES])
        per_country = np.maximum(10, np.floor(total * shares / shares.sum())).astype(np.int64)
        start = np.concatenate([[0], np.cumsum(per_country)[:-1]])
        return cls(timezone, per_country, start)


_SUB_COUNTRY = np.array([COUNTRY_CODES.index(s.country) for s in SUBACCOUNTS])
_SUB_LANGUAGE_PT = np.array([COUNTRIES[s.country].language == "pt" for s in SUBACCOUNTS])
_SUB_NAMES = np.array([s.name for s in SUBACCOUNTS], dtype=object)
_SUB_CORRELATION = np.array([s.correlation_prefix + "-" for s in SUBACCOUNTS], dtype=object)
_USERS_BY_SUB = [[name for name, sub in USERS if sub == i] for i in range(len(SUBACCOUNTS))]
_USER_OFFSETS, _USER_SIZES, _user_names = _catalogue(_USERS_BY_SUB)
_USER_NAMES = np.array(_user_names, dtype=object)
_CAMPAIGN_GROUPS = [
    [i for i, (_n, sub, channel, _t) in enumerate(CAMPAIGNS) if sub == s and channel == ch]
    for s in range(len(SUBACCOUNTS))
    for ch in ("whatsapp", "sms")
]  # group = subaccount * 2 + (channel is sms)
_CAMPAIGN_OFFSETS, _CAMPAIGN_SIZES, _campaign_flat = _catalogue(_CAMPAIGN_GROUPS)
_CAMPAIGN_FLAT = np.array(_campaign_flat, dtype=np.int64)
_CAMPAIGN_NAMES = np.array([c[0] for c in CAMPAIGNS], dtype=object)
_CAMPAIGN_TEMPLATE_NAMES = np.array(CAMPAIGN_TEMPLATES, dtype=object)
# Each country's operators in one array: a contact's is fixed by its rank (see _operators).
_OPERATOR_OFFSETS, _OPERATOR_SIZES, _operator_flat = _catalogue(
    [OPERATORS[code] for code in COUNTRY_CODES]
)
_OPERATOR_NAMES = np.array(_operator_flat, dtype=object)
_CAMPAIGN_TEMPLATES = _Templates.of(c[3] for c in CAMPAIGNS)
_DIRECT_KEYS = [("pt", "whatsapp"), ("pt", "sms"), ("es", "whatsapp"), ("es", "sms")]
_DIRECT_OFFSETS, _DIRECT_SIZES, _DIRECT_FLAT = _catalogue([TRANSACTIONAL[k] for k in _DIRECT_KEYS])
_DIRECT_TEMPLATES = _Templates.of(_DIRECT_FLAT)
_REPLY_OFFSETS, _REPLY_SIZES, _REPLY_FLAT = _catalogue([REPLIES["pt"], REPLIES["es"]])
_REPLY_TEXTS = np.array(_REPLY_FLAT, dtype=object)
_WA_TYPES = sorted({t for weights in WHATSAPP_CONTENT.values() for t in weights})
_MEDIA_OFFSETS, _MEDIA_SIZES, _MEDIA_FLAT = _catalogue(
    [MEDIA_TEXT[language].get(t, (None,)) for t in _WA_TYPES for language in ("pt", "es")]
)  # group = content type index * 2 + (language is Spanish)
_MEDIA_TEXTS = np.array(_MEDIA_FLAT, dtype=object)


def _type_weights(kind: str) -> np.ndarray:
    return np.array([WHATSAPP_CONTENT[kind].get(t, 0) for t in _WA_TYPES], dtype=float)


def _phones(contact: np.ndarray, account: _Account) -> tuple[np.ndarray, np.ndarray]:
    """Digits of each contact's mobile number and the contact's country index.

    The subscriber part is an affine permutation of the contact's rank within its country, so
    every contact has its own number and a contact always has the same one.
    """
    country = np.searchsorted(account.contact_start, contact, side="right") - 1
    rank = contact - account.contact_start[country]
    phones = np.empty(len(contact), dtype=object)
    for index, code in enumerate(COUNTRY_CODES):
        rows = country == index
        if not rows.any():
            continue
        spec = COUNTRIES[code]
        prefixes = np.array(spec.prefixes, dtype=object)
        local = rank[rows]
        modulus = 10**spec.digits
        subscriber = (local // len(prefixes) * 7_919_731 + 1_234_567) % modulus
        phones[rows] = (
            spec.calling_code + prefixes[local % len(prefixes)] + _zfill(subscriber, spec.digits)
        )
    return phones, country


def _operators(contact: np.ndarray, country: np.ndarray, account: _Account) -> np.ndarray:
    """Each contact's mobile network: one of its country's, always the same for a contact."""
    rank = contact - account.contact_start[country]
    return _OPERATOR_NAMES[_OPERATOR_OFFSETS[country] + rank % _OPERATOR_SIZES[country]]


def _contact_names(contact: np.ndarray, country: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How templates greet each contact, and the contact's full name (None when unknown)."""
    hashed = _mix64(contact.astype(np.uint64) + np.uint64(77)).astype(np.uint64)
    portuguese = np.array([COUNTRIES[c].language == "pt" for c in COUNTRY_CODES])[country]
    first = np.where(
        portuguese,
        np.array(FIRST_NAMES["pt"], dtype=object)[hashed % np.uint64(len(FIRST_NAMES["pt"]))],
        np.array(FIRST_NAMES["es"], dtype=object)[hashed % np.uint64(len(FIRST_NAMES["es"]))],
    )
    second = hashed >> np.uint64(20)
    last = np.where(
        portuguese,
        np.array(LAST_NAMES["pt"], dtype=object)[second % np.uint64(len(LAST_NAMES["pt"]))],
        np.array(LAST_NAMES["es"], dtype=object)[second % np.uint64(len(LAST_NAMES["es"]))],
    )
    # About one contact in twelve never gave a name; templates then greet a generic customer.
    named = (hashed >> np.uint64(40)) % np.uint64(12) != 0
    greeting = np.where(named, first, "cliente")
    return greeting, np.where(named, first + " " + last, np.array(None, dtype=object))


def _as_timestamps(values_us: np.ndarray, present: np.ndarray) -> pd.Series:
    out = pd.Series(values_us.astype("datetime64[us]"))
    return out.where(present).astype("datetime64[us]")


def build_chunk(
    created_us: np.ndarray,
    first_index: int,
    *,
    seed: int,
    chunk_number: int,
    now_us: int,
    account: _Account,
) -> pd.DataFrame:
    """The staged frame (merge.STAGE_COLUMNS) of the messages created at `created_us`."""
    rng = np.random.default_rng([seed, 1 + chunk_number])
    size = len(created_us)
    index = np.arange(first_index, first_index + size, dtype=np.int64)

    sub = _pick(rng, [s.share for s in SUBACCOUNTS], size)
    whatsapp = rng.random(size) < np.array([s.whatsapp for s in SUBACCOUNTS])[sub]
    mo = rng.random(size) < np.where(whatsapp, 0.09, 0.02)
    mt = ~mo

    # Contacts: mostly from the subaccount's own country; a few regular customers get most of
    # the traffic, so a phone has many messages.
    home = _SUB_COUNTRY[sub]
    abroad = rng.random(size) < 0.05
    other = (home + 1 + rng.integers(0, len(COUNTRY_CODES) - 1, size)) % len(COUNTRY_CODES)
    country = np.where(abroad, other, home)
    skew = rng.random(size) ** 2.5
    contact = account.contact_start[country] + np.floor(
        skew * account.contacts_per_country[country]
    ).astype(np.int64)
    phones, contact_country = _phones(contact, account)
    salutation, contact_names = _contact_names(contact, contact_country)

    user_pick = _USER_OFFSETS[sub] + _pick_in_groups(rng, sub, _USER_SIZES)
    has_user = mt & (rng.random(size) < 0.96)
    user = np.where(has_user, _USER_NAMES[user_pick], None)

    campaign_group = sub * 2 + (~whatsapp).astype(np.int64)
    campaign_pick = _CAMPAIGN_FLAT[
        _CAMPAIGN_OFFSETS[campaign_group] + _pick_in_groups(rng, campaign_group, _CAMPAIGN_SIZES)
    ]
    in_campaign = mt & (rng.random(size) < np.where(whatsapp, 0.62, 0.70))
    campaign = np.where(in_campaign, _CAMPAIGN_NAMES[campaign_pick], None)

    # Content type and text.
    wa_types = np.array(_WA_TYPES, dtype=object)
    type_index = np.where(
        in_campaign,
        _pick(rng, _type_weights("campaign"), size),
        np.where(
            mo, _pick(rng, _type_weights("reply"), size), _pick(rng, _type_weights("direct"), size)
        ),
    )
    content_type = np.where(whatsapp, wa_types[type_index], "text")
    numbers = _zfill(rng.integers(0, 1_000_000, size), 6)
    portuguese = _SUB_LANGUAGE_PT[sub]
    direct_group = np.where(portuguese, 0, 2) + (~whatsapp).astype(np.int64)
    direct_pick = _DIRECT_OFFSETS[direct_group] + _pick_in_groups(rng, direct_group, _DIRECT_SIZES)
    reply_group = np.where(portuguese, 0, 1)
    reply_pick = _REPLY_OFFSETS[reply_group] + _pick_in_groups(rng, reply_group, _REPLY_SIZES)
    media_group = type_index * 2 + (~portuguese).astype(np.int64)
    media_pick = _MEDIA_OFFSETS[media_group] + _pick_in_groups(rng, media_group, _MEDIA_SIZES)
    textual = (content_type == "text") | (content_type == "template")
    content = np.where(
        mo,
        # A customer's photo, audio or sticker has no caption; a shared place has its address.
        np.where(
            textual,
            _REPLY_TEXTS[reply_pick],
            np.where(content_type == "location", _MEDIA_TEXTS[media_pick], None),
        ),
        np.where(
            in_campaign & textual,
            _CAMPAIGN_TEMPLATES.fill(campaign_pick, salutation, numbers),
            np.where(
                textual,
                _DIRECT_TEMPLATES.fill(direct_pick, salutation, numbers),
                _MEDIA_TEXTS[media_pick],
            ),
        ),
    )

    # What happened to each MT message. Times are microseconds after creation.
    sub_wa_error = np.array([s.wa_error for s in SUBACCOUNTS])[sub]
    sub_sms_error = np.array([s.sms_error for s in SUBACCOUNTS])[sub]
    error = mt & (rng.random(size) < np.where(whatsapp, sub_wa_error, sub_sms_error))
    wa_code = _pick(rng, [e[2] for e in WHATSAPP_ERRORS], size)
    sms_code = _pick(rng, [e[2] for e in SMS_ERRORS], size)
    error_code = np.where(
        whatsapp,
        np.array([e[0] for e in WHATSAPP_ERRORS], dtype=object)[wa_code],
        np.array([e[0] for e in SMS_ERRORS], dtype=object)[sms_code],
    )
    error_text = np.where(
        whatsapp,
        np.array([e[1] for e in WHATSAPP_ERRORS], dtype=object)[wa_code],
        np.array([e[1] for e in SMS_ERRORS], dtype=object)[sms_code],
    )
    error_was_sent = np.where(
        whatsapp,
        np.array([e[3] for e in WHATSAPP_ERRORS])[wa_code],
        np.array([e[3] for e in SMS_ERRORS])[sms_code],
    )

    # A few sends were scheduled (some of them then cancelled) and never went out.
    held = mt & ~error & (rng.random(size) < 0.004)
    cancelled = held & (rng.random(size) < 0.35)
    sent_delay = (rng.lognormal(np.log(2.0), 0.8, size) * 1e6).astype(np.int64)
    delivered_delay = (
        rng.lognormal(np.where(whatsapp, np.log(3.0), np.log(12.0)), np.where(whatsapp, 1.0, 1.6))
        * 1e6
    ).astype(np.int64)
    read_delay = (rng.lognormal(np.log(900.0), 1.7, size) * 1e6).astype(np.int64)
    sent_at = created_us + sent_delay
    delivered_at = sent_at + delivered_delay
    read_at = delivered_at + read_delay

    sends = mt & ~held
    has_sent = sends & (~error | error_was_sent) & (sent_at <= now_us)
    # A blocked recipient or a carrier without handset receipts leaves the message at "sent".
    reaches = rng.random(size) < np.where(whatsapp, 0.935, 0.83)
    has_delivered = has_sent & ~error & reaches & (delivered_at <= now_us)
    read_rate = np.array([s.read_rate for s in SUBACCOUNTS])[sub]
    has_read = whatsapp & has_delivered & (rng.random(size) < read_rate) & (read_at <= now_us)

    status = np.select(
        [mo, cancelled, held, error, has_read, has_delivered, has_sent],
        [
            STATUS_RANK["received"],
            STATUS_RANK["cancelled"],
            STATUS_RANK["scheduled"],
            STATUS_RANK["error"],
            STATUS_RANK["read"],
            STATUS_RANK["delivered"],
            STATUS_RANK["sent"],
        ],
        default=STATUS_RANK["queued"],
    ).astype(np.int64)

    ids = _hex16(_mix64(index.astype(np.uint64) + (np.uint64(seed) << np.uint64(40))))
    message_id = np.where(whatsapp, "wamid." + ids, "sms-" + ids)
    has_correlation = mt & (rng.random(size) < 0.6)
    correlation = np.where(
        has_correlation, _SUB_CORRELATION[sub] + _zfill(index % 10_000_000_000, 10), None
    )

    nothing = np.full(size, None, dtype=object)
    created = pd.Series(created_us.astype("datetime64[us]"))
    local = pd.DatetimeIndex(created).tz_localize("UTC").tz_convert(account.timezone)
    created_day = local.tz_localize(None).to_numpy().astype("datetime64[D]").astype(object)
    frame = pd.DataFrame(
        {
            "message_id": message_id,
            "channel": np.where(whatsapp, "whatsapp", "sms").astype(object),
            "direction": np.where(mo, "MO", "MT").astype(object),
            "subaccount": _SUB_NAMES[sub],
            "user": user,
            "campaign": campaign,
            "content_type": content_type.astype(object),
            "phone": phones,
            "contact_name": contact_names,
            "content": content,
            "status_rank": status,
            "error_code": np.where(error, error_code, None),
            "error_description": np.where(error, error_text, None),
            "created_at": created,
            "created_day": created_day,
            "sent_at": _as_timestamps(sent_at, has_sent),
            "delivered_at": _as_timestamps(delivered_at, has_delivered),
            "read_at": _as_timestamps(read_at, has_read),
            "correlation_id": correlation,
            # Sinch names the network in the delivery reports of what it dispatched; WhatsApp
            # names none.
            "operator": np.where(
                ~whatsapp & mt & has_sent, _operators(contact, contact_country, account), nothing
            ),
            "template": np.where(
                whatsapp & mt & (content_type == "template"),
                np.where(
                    in_campaign,
                    _CAMPAIGN_TEMPLATE_NAMES[campaign_pick],
                    np.where(portuguese, DIRECT_TEMPLATES["pt"], DIRECT_TEMPLATES["es"]),
                ),
                nothing,
            ),
        }
    )
    return frame[list(STAGE_COLUMNS)]


# --------------------------------------------------------------------------- the run


def check_request(count: int, days: int, seed: int) -> None:
    """Raise DemoError when the count, span or seed cannot be built."""
    if seed < 0:
        raise DemoError(f"The demo seed is a whole number from 0 up, got {seed}.")
    if count < 1:
        raise DemoError(f"The number of demo messages must be at least 1, got {count}.")
    if not 1 <= days <= MAX_DAYS:
        raise DemoError(f"The demo covers 1 to {MAX_DAYS} days, got {days}.")


def generate(
    count: int,
    *,
    days: int = 90,
    seed: int = 0,
    timezone: str = "America/Sao_Paulo",
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """Staged frames of `count` demo messages in creation order, `chunk_rows` at a time.

    The same count, days, seed, now and chunk size always give the same messages.
    """
    check_request(count, days, seed)
    now = now or datetime.now(ZoneInfo(timezone))
    if now.tzinfo is None:
        raise DemoError("The demo's 'now' must carry a time zone.")
    times = creation_times(count, days, now, timezone, np.random.default_rng([seed, 0]))
    now_us = _epoch_us(now)
    account = _Account.for_run(count, timezone)
    for number, start in enumerate(range(0, count, chunk_rows)):
        yield build_chunk(
            times[start : start + chunk_rows],
            start,
            seed=seed,
            chunk_number=number,
            now_us=now_us,
            account=account,
        )


def store_has_messages(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(messages.c.message_id).limit(1)).first() is not None


def _add_memberships(engine: Engine) -> None:
    """Let each demo sender see the subaccount they send for."""
    with engine.begin() as conn:
        user_ids = dict(conn.execute(select(users.c.username, users.c.id)).all())
        sub_ids = dict(conn.execute(select(subaccounts.c.name, subaccounts.c.id)).all())
        known = set(
            conn.execute(select(user_subaccounts.c.user_id, user_subaccounts.c.subaccount_id)).all()
        )
        wanted = {
            (user_ids[username], sub_ids[SUBACCOUNTS[sub].name])
            for username, sub in USERS
            if username in user_ids and SUBACCOUNTS[sub].name in sub_ids
        }
        rows = [{"user_id": u, "subaccount_id": s} for u, s in sorted(wanted - known)]
        if rows:
            conn.execute(insert(user_subaccounts), rows)


DEMO_SCOPE = WriteScope.account("demo data")


def _merge_chunk(frame: pd.DataFrame, tx: Transaction) -> None:
    merge_records(tx, frame, DEMO_SCOPE, source="demo", keep_events=False)


def build_demo(
    engine: Engine,
    count: int,
    *,
    days: int = 90,
    seed: int = 0,
    timezone: str = "America/Sao_Paulo",
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `count` demo messages into the store, one transaction per chunk; return the count.

    Rows go through the loader's merge, so building the same seed twice changes nothing.
    """
    written = 0
    for frame in generate(
        count, days=days, seed=seed, timezone=timezone, now=now, chunk_rows=chunk_rows
    ):
        write(engine, partial(_merge_chunk, frame), bulk=True)
        written += len(frame)
        if progress is not None:
            progress(len(frame))
    _add_memberships(engine)
    return written


def message_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())
