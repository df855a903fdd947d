"""PinPay: prepaid PIN voucher payments, wire-compatible with Paysafecard's REST API v1."""

__version__ = "0.1.0"
