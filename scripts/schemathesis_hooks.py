"""Schemathesis hooks for scripts/schemathesis.sh: they keep generated requests away from the
few refusals that no JSON Schema can state, so the checks judge everything else.

Each one names the documented rule it works around. A refusal for the form of a single value
never belongs here: that goes into the OpenAPI document instead.
"""

import datetime
import re
import uuid

import schemathesis

# The largest total of an order, in cents (projector_orders::limits::ORDER_TOTAL_MAX).
ORDER_TOTAL_MAX_CENTS = 100_000_000_000_000
# The longest range of the daily sales report, in days (limits::REPORT_DAYS_MAX).
REPORT_DAYS_MAX = 366
I64_MAX = 2**63 - 1
# `If-Match` as the document states it (limits::IF_MATCH_PATTERN).
IF_MATCH = re.compile(r'((W/)?"[0-9]{1,19}"|\*)')


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value):
    """A whole number, given as one or as its decimal text; else None."""
    if _is_int(value):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _real_date_prefix(cursor):
    """The cursor with a day that its month has: the document's pattern allows `09-31`, which
    no read model can have written, and the server refuses such a cursor as not one it
    issued. The time is otherwise kept."""
    if not isinstance(cursor, str) or len(cursor) < 10:
        return cursor
    try:
        datetime.date.fromisoformat(cursor[:10])
        return cursor
    except ValueError:
        return cursor[:8] + "28" + cursor[10:]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Refusals of valid requests that depend on the server's state, in positive cases only
    (every phase, so also the coverage phase, which other hooks do not see):

    - `min_position` names a position of the event feed; one no write has reached yet is
      refused with 422 (documented on the parameter). A valid value becomes 0, which every
      server has reached.
    - `Idempotency-Key`: see below.
    - an order's lines: each SKU once, a total of at most a trillion (`_fit_order_lines`).
    - the report's range: `to` not before `from`, less than 366 days after it.
    - `cursor` must be one the server issued; one of the right form on a day its month does
      not have (`09-31`) cannot be, and is moved to the 28th. A product search's cursor is
      tied to its search, so a made-up one is left out.
    - a product search's `max_price` not below its `min_price`.

    And one of schemathesis's own: its coverage phase makes header values of letters and
    digits only, so it cannot meet `If-Match`'s pattern (quotes) and sends `0` as a "valid"
    value. Such a value, which the document itself calls invalid, is left out of a positive
    case (the header is optional).
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    _fit_bodies(case)
    headers = case.headers or {}
    # An `Idempotency-Key` already used for another request is refused with 422 (documented
    # on the header): state again, as schemathesis repeats the few keys it makes. A
    # positive case gets a key of its own, of the documented form.
    if headers.get("Idempotency-Key") is not None:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    if_match = headers.get("If-Match")
    if if_match is not None and not IF_MATCH.fullmatch(str(if_match)):
        del headers["If-Match"]
    query = case.query
    if not query:
        return
    # The coverage phase sends parameters as the text they travel as.
    position = _as_int(query.get("min_position"))
    if position is not None and 0 < position <= I64_MAX:
        query["min_position"] = 0
    if "cursor" in query:
        query["cursor"] = _real_date_prefix(query["cursor"])
    # The report's range (see `filter_report_range`), which the coverage phase does not filter.
    if case.operation.path == "/api/reports/daily-sales" and not filter_report_range(None, query):
        query["to"] = query["from"]
    # The product search's rules (see `filter_product_search`), likewise.
    if case.operation.path == "/api/products/search" and not filter_product_search(None, query):
        query.pop("cursor", None)
        if not filter_product_search(None, query):
            query.pop("max_price", None)


def _fit_bodies(case):
    """The order bodies' rules across lines (see `_fit_order_lines`), in positive cases."""
    path, body = case.operation.path, case.body
    if case.method.upper() != "POST" or not isinstance(body, dict):
        return
    if path == "/api/orders":
        _fit_order_lines(body.get("items"))
    elif path == "/api/orders/{id}/items":
        _fit_order_lines([body])


def _date(value):
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@schemathesis.hook("filter_query").apply_to(path="/api/reports/daily-sales")
def filter_report_range(ctx, query):
    """`to` may not be before `from` nor 366 days or more after it: a rule across two
    parameters, which a schema cannot state. Such ranges are not sent at all."""
    if not isinstance(query, dict):
        return True
    start, end = _date(query.get("from")), _date(query.get("to"))
    if start is None or end is None:
        return True
    return 0 <= (end - start).days < REPORT_DAYS_MAX


def _fit_order_lines(items):
    """Order lines made to keep the rules across lines, which a schema cannot state: each SKU
    once (a repeated one gets a suffix, still an id) and a total of at most a trillion (the
    quantities of a line past it become 1, then prices 0). Lines that break the schema on
    their own are left alone."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return
    seen = set()
    for index, item in enumerate(items):
        sku = item.get("sku")
        if isinstance(sku, str) and sku in seen:
            item["sku"] = f"{sku[:56]}-{index}"
        seen.add(item.get("sku"))
    total = 0
    for item in items:
        quantity, price = item.get("quantity"), item.get("unit_price")
        if not (_is_int(quantity) or isinstance(quantity, float)) or not isinstance(price, (int, float)):
            continue
        if isinstance(price, bool) or isinstance(quantity, bool):
            continue
        line = int(quantity) * round(price * 100)
        if total + line > ORDER_TOTAL_MAX_CENTS:
            item["quantity"] = 1
            line = round(price * 100)
        if total + line > ORDER_TOTAL_MAX_CENTS:
            item["unit_price"] = 0
            line = 0
        total += line


@schemathesis.hook("filter_query").apply_to(path="/api/products/search")
def filter_product_search(ctx, query):
    """Two rules of the product search a schema cannot state: `max_price` may not be below
    `min_price` (across two parameters), and `cursor` must be the `next_cursor` the server
    issued for this very search (state). Queries breaking either are not sent as valid ones."""
    if not isinstance(query, dict):
        return True
    if "cursor" in query:
        return False
    try:
        low, high = float(query.get("min_price", 0)), float(query.get("max_price", 1e9))
    except (TypeError, ValueError):
        return True
    return low <= high
