"""The OpenAPI 3.1 description of the receiver, written by hand so it says what we mean."""

from __future__ import annotations

from typing import Any

from ..store.ingest import OUTCOMES
from .api import DELIVERY_KINDS, TX_KINDS, TX_STATUSES

__all__ = ["openapi"]

# Greater than zero, at most two decimals: "150.5", "0.01"; not "0", "0.00" nor "1.005".
_POSITIVE_MONEY = r"^(0*[1-9]\d*(\.\d{1,2})?|0+\.(0[1-9]|[1-9]\d?))$"
_money = {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$", "examples": ["150.50"]}
_error = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_page = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Transaction"}},
        "next_cursor": {"type": ["integer", "null"]},
    },
}


def _text(description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description}


_transaction = {
    "type": "object",
    "required": [
        "order_id", "terminal_id", "store_id", "folio_number", "kind", "status", "approved",
        "response_code", "message", "amount", "tip_amount", "cancelled", "reprint_count",
        "delivery_count", "transaction_at", "received_at", "traceability", "raw",
    ],
    "properties": {
        "order_id": {"type": ["string", "null"]},
        "terminal_id": {"type": ["string", "null"]},
        "store_id": {"type": ["string", "null"]},
        "folio_number": {"type": ["string", "null"]},
        "kind": {"enum": ["sale", "cancellation"]},
        "status": {
            "enum": [
                "approved", "declined", "user_cancelled", "cancelled", "reversed",
                "pending_reversal",
            ]
        },
        "approved": {"type": "boolean"},
        "response_code": {"type": ["string", "null"]},
        "message": {"type": ["string", "null"]},
        "response_text": {
            "type": "object",
            "properties": {"es": {"type": "string"}, "en": {"type": "string"}},
        },
        "amount": _money,
        "tip_amount": _money,
        "cancelled": {"type": "boolean"},
        "reprint_count": {"type": "integer"},
        "delivery_count": {"type": "integer"},
        "conflict_count": {"type": "integer"},
        "reprint_module": _text("the state the last reprint reported: C, CA, RV, PRV, ..."),
        "card": {
            "type": "object",
            "properties": {
                "brand": {"type": ["string", "null"]},
                "type": {"type": ["string", "null"], "description": "C credit, D debit"},
                "last4": {"type": ["string", "null"]},
                "bank": {"type": ["string", "null"]},
            },
        },
        "auth_code": {"type": ["string", "null"]},
        "msi": {"type": ["integer", "null"], "description": "months without interest"},
        "transaction_id": {"type": ["string", "null"]},
        "transaction_at": {"type": ["string", "null"], "format": "date-time"},
        "business_date": {**_text("the day in Mexico City"), "format": "date"},
        "received_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "traceability": {"type": "object"},
        "push_id": _text("the push this result completed"),
        "source": _text("what created the row: the result itself, or a reprint of it"),
        "key": {"type": "string", "description": "the row's key, also without an orderId"},
        "raw": {"type": ["object", "null"]},
        # One transaction's page only (GET /api/transactions/{order_id}):
        "deliveries": {"type": "array", "items": {"type": "object"},
                       "description": "every body received for it (detail only)"},
        "pushes": {"type": "array", "items": {"type": "object"},
                   "description": "the pushes it answered (detail only)"},
        "timeline": {"type": "array", "items": {"type": "object"},
                     "description": "push, deliveries, reprints, cancellation (detail only)"},
    },
}  # fmt: skip
_push_in = {
    "type": "object",
    "required": ["kind", "terminal_id"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "maxLength": 64},
        "kind": {"enum": ["sale", "reprint", "cancel"]},
        "terminal_id": {"type": "string", "minLength": 1},
        "store_id": {"type": "string"},
        "amount": {"type": "string", "pattern": _POSITIVE_MONEY},
        "folio_number": {"type": "string", "maxLength": 250},
        "order_id": {"type": "string"},
        "traceability": {"type": "object"},
        "ttl_seconds": {"type": "number", "minimum": 1, "maximum": 3600},
        "exclusive": {"type": "boolean"},
    },
}
_push = {
    "type": "object",
    "required": ["id", "kind", "terminal_id", "state"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string"},
        "terminal_id": {"type": "string"},
        "store_id": {"type": ["string", "null"]},
        "amount": _money,
        "folio_number": {"type": ["string", "null"]},
        "order_id": {"type": ["string", "null"]},
        "traceability": {"type": "object"},
        "state": {"enum": ["registered", "sent", "completed", "failed", "abandoned", "expired"]},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "result_status": {"type": ["string", "null"]},
        "transaction_key": {"type": ["string", "null"]},
        "result": {"type": ["object", "null"], "description": "the transaction, once completed"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_429 = {"429": _json(_error, "too many failed authentications from this address (Retry-After)")}
_401 = {"401": _json(_error, "missing or wrong API token"), **_429}
_400 = {"400": _json(_error, "bad query or body")}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def openapi(version: str) -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    page_or_csv = _json(_page, "a page; with format=csv, every match as a CSV file")
    page_or_csv["content"]["text/csv"] = {"schema": {"type": "string"}}
    paging = [
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
        _q("cursor", {"type": "integer", "minimum": 1}, "next_cursor of the previous page"),
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "netpay-smart receiver",
            "version": version,
            "description": "Where NetPay Smart terminals post results, and how a POS reads them.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Transaction": _transaction, "Error": _error},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/webhook/{secret}": {
                "post": {
                    "summary": "A terminal posts a result (sale, reprint, cancellation, probe)",
                    "security": [],
                    "parameters": [
                        {
                            "name": "secret",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {"content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "code": {"const": "00"},
                                    "message": {"const": "Recibido"},
                                },
                            },
                            "stored durably",
                        ),
                        "400": _json(_error, "not a JSON object (stored all the same)"),
                        "404": _json(_error, "wrong secret; nothing stored"),
                        **_429,
                        "413": _json(_error, "over the size limit"),
                        "503": _json(_error, "could not be stored; send it again"),
                    },
                }
            },
            "/api/transactions": {
                "get": {
                    "summary": "Transactions, newest first",
                    "parameters": [
                        _q("store_id", {"type": "string"}, "store"),
                        _q("terminal_id", {"type": "string"}, "terminal serial"),
                        _q("date", {"type": "string", "format": "date"}, "business day, CDMX"),
                        _q("status", {"enum": list(TX_STATUSES)}, "the transaction's state"),
                        _q("folio", {"type": "string"}, "folio number"),
                        _q("kind", {"enum": list(TX_KINDS)}, "sale or cancellation"),
                        _q("order_id", {"type": "string"}, "order id"),
                        _q("format", {"enum": ["json", "csv"]}, "csv: every match, a file"),
                        *paging,
                    ],
                    "responses": {"200": page_or_csv, **_400, **_401},
                }
            },
            "/api/transactions/{order_id}": {
                "get": {
                    "summary": "One sale (with its cancellation and deliveries)",
                    "parameters": [
                        {
                            "name": "order_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Transaction"}, "found"),
                        "404": _json(_error, "unknown order id"),
                        **_401,
                    },
                }
            },
            "/api/deliveries": {
                "get": {
                    "summary": "Every body received, duplicates and bad ones included",
                    "parameters": [
                        _q("outcome", {"enum": list(OUTCOMES)}, "what processing made of it"),
                        _q("kind", {"enum": list(DELIVERY_KINDS)}, "what the body is"),
                        *paging,
                    ],
                    "responses": {"200": _json({"type": "object"}, "a page"), **_400, **_401},
                }
            },
            "/api/reports/daily": {
                "get": {
                    "summary": "Totals of a business day per store and terminal",
                    "parameters": [_q("date", {"type": "string", "format": "date"}, "day")],
                    "responses": {"200": _json({"type": "object"}, "totals"), **_400, **_401},
                }
            },
            "/api/pushes": {
                "post": {
                    "summary": "Register a push before sending it (one open push per terminal)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _push_in}},
                    },
                    "responses": {
                        "201": _json(_push, "registered"),
                        "409": _json(_error, "terminal busy"),
                        "413": _json(_error, "body over 64 KiB"),
                        **_400,
                        **_401,
                    },
                }
            },
            "/api/pushes/{push_id}": {
                "get": {
                    "summary": "A push and its result; ?wait=SECONDS long-polls",
                    "parameters": [
                        {
                            "name": "push_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _q("wait", {"type": "number", "minimum": 0}, "seconds to wait"),
                    ],
                    "responses": {
                        "200": _json(_push, "the push"),
                        "404": _json(_error, "unknown push"),
                        **_400,
                        **_401,
                    },
                },
                "patch": {
                    "summary": "Mark a push sent, failed or abandoned",
                    "parameters": [
                        {
                            "name": "push_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "state": {"enum": ["sent", "failed", "abandoned"]}
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": _json(_push, "updated"),
                        "409": _json(_error, "not open"),
                        "413": _json(_error, "body over 64 KiB"),
                        **_400,
                        **_401,
                    },
                },
            },
            "/api/events": {
                "get": {
                    "summary": "Server-sent events of processed deliveries",
                    "responses": {"200": {"description": "text/event-stream"}, **_401},
                }
            },
            "/api/exceptions": {
                "get": {
                    "summary": "What needs attention on a day: pushes without result, results "
                    "without push, reversals, conflicts, late cancellations",
                    "parameters": [_q("date", {"type": "string", "format": "date"}, "day")],
                    "responses": {"200": _json({"type": "object"}, "the queue"), **_400, **_401},
                }
            },
            "/api/session": {
                "get": {
                    "summary": "Whether the caller is signed in (dashboard)",
                    "responses": {"200": _json({"type": "object"}, "signed in"), **_401},
                }
            },
            "/session": {
                "post": {
                    "summary": "Trade the API token for the dashboard's session cookie "
                    "(from the dashboard's own page; the session can only read)",
                    "security": [],
                    "requestBody": {
                        "content": {
                            media: {
                                "schema": {
                                    "type": "object",
                                    "required": ["token"],
                                    "properties": {"token": {"type": "string"}},
                                }
                            }
                            for media in ("application/json", "application/x-www-form-urlencoded")
                        }
                    },
                    "responses": {
                        "204": {"description": "signed in; cookie set"},
                        "401": _json(_error, "wrong token"),
                        "403": _json(_error, "sent from another origin"),
                        "413": _json(_error, "body over 4 KiB"),
                        "415": _json(_error, "neither JSON nor a form"),
                        "429": _json(_error, "too many failed attempts from this address"),
                    },
                }
            },
            "/session/logout": {
                "post": {
                    "security": [],
                    "responses": {
                        "204": {"description": "signed out"},
                        "403": _json(_error, "sent from another origin"),
                    },
                }
            },
            "/healthz": {"get": {"security": [], "responses": {"200": {"description": "alive"}}}},
            "/readyz": {
                "get": {
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "results can be acknowledged: status ready, or "
                            "spooling while the database is down and the local spool takes them"
                        },
                        "503": {
                            "description": "status unavailable (neither the database nor the "
                            "spool can take a result) or starting"
                        },
                    },
                }
            },
            "/metrics": {
                "get": {"security": [], "responses": {"200": {"description": "Prometheus"}}}
            },
        },
    }
