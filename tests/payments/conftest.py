"""The merchant API fixtures live in tests/api_client.py (shared with the page tests)."""

from tests.api_client import Shop, basic, payment_body

__all__ = ["Shop", "basic", "payment_body"]
