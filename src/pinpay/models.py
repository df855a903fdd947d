"""Every domain's models, imported once so that the metadata (and Alembic) sees all tables."""

from pinpay.audit.models import AuditChainHead, AuditRecord, AuditSeal
from pinpay.customers.models import (
    CustomerAccount,
    CustomerSession,
    EmailVerification,
    WalletBalance,
)
from pinpay.db import Base
from pinpay.fraud.models import Lockout, PinFailure
from pinpay.idempotency.models import IdempotencyKey
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.merchants.models import (
    ApiClient,
    ApiKey,
    Merchant,
    SignatureNonce,
    SigningKey,
    WebhookSecret,
)
from pinpay.notifications.models import OutboxEvent, WebhookAttempt
from pinpay.payments.models import CardAssignment, Payment, WalletAssignment
from pinpay.payouts.models import Payout, PayoutBinding
from pinpay.refunds.models import Refund
from pinpay.vouchers.models import Voucher, VoucherBatch

__all__ = [
    "ApiClient",
    "ApiKey",
    "AuditChainHead",
    "AuditRecord",
    "AuditSeal",
    "Base",
    "CardAssignment",
    "CustomerAccount",
    "CustomerSession",
    "EmailVerification",
    "IdempotencyKey",
    "JournalEntry",
    "JournalLine",
    "Lockout",
    "Merchant",
    "OutboxEvent",
    "Payment",
    "Payout",
    "PayoutBinding",
    "PinFailure",
    "Refund",
    "SignatureNonce",
    "SigningKey",
    "Voucher",
    "VoucherBatch",
    "WalletAssignment",
    "WalletBalance",
    "WebhookAttempt",
    "WebhookSecret",
]
