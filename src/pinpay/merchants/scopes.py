"""Which OAuth scope each merchant API route needs from a Bearer token.

One explicit table, keyed by method and route path as declared (not as requested), so that a
reviewer sees every route's scope in one place. A /v1 route missing here takes no Bearer token
at all (fail closed); tests/oauth/test_scopes.py checks that every /v1 route is listed.
"""

from fastapi import Request

from pinpay.errors import InsufficientScope

PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"
REFUNDS = "refunds"
PAYOUTS = "payouts"
SCOPES = (PAYMENTS_READ, PAYMENTS_WRITE, REFUNDS, PAYOUTS)

ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/v1/payments"): PAYMENTS_WRITE,
    ("GET", "/v1/payments"): PAYMENTS_READ,
    ("GET", "/v1/payments/{payment_id}"): PAYMENTS_READ,
    ("POST", "/v1/payments/{payment_id}/capture"): PAYMENTS_WRITE,
    ("POST", "/v1/payments/{payment_id}/cancel"): PAYMENTS_WRITE,
    ("POST", "/v1/payments/{payment_id}/cards"): PAYMENTS_WRITE,
    ("POST", "/v1/vouchers/check"): PAYMENTS_WRITE,
    ("GET", "/v1/payments/{payment_id}/notifications"): PAYMENTS_READ,
    ("POST", "/v1/notifications/{notification_id}/resend"): PAYMENTS_WRITE,
    ("POST", "/v1/payments/{payment_id}/refunds"): REFUNDS,
    ("POST", "/v1/payments/{payment_id}/refunds/{refund_id}/capture"): REFUNDS,
    ("GET", "/v1/payments/{payment_id}/refunds/{refund_id}"): REFUNDS,
    ("POST", "/v1/payouts"): PAYOUTS,
    ("GET", "/v1/payouts/limits/{currency}"): PAYOUTS,
    ("POST", "/v1/payouts/{payout_id}/capture"): PAYOUTS,
    ("GET", "/v1/payouts/{payout_id}"): PAYOUTS,
}
# A route nobody mapped needs a scope no token can carry.
UNMAPPED = "unmapped-route"


def required_scope(request: Request) -> str:
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    return ROUTE_SCOPES.get((method, str(getattr(route, "path", ""))), UNMAPPED)


def require_scope(request: Request, granted: frozenset[str]) -> None:
    needed = required_scope(request)
    if needed not in granted:
        raise InsufficientScope(needed)


def parse_scopes(requested: list[str]) -> list[str]:
    """Known scopes only, each once, in the canonical order; None of them is an empty list."""
    unknown = set(requested) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)[0]!r}; choose from {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in requested]
