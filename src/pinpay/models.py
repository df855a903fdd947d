"""Every domain's models, imported once so that the metadata (and Alembic) sees all tables."""

from pinpay.audit.models import AuditChainHead, AuditRecord, AuditSeal
from pinpay.db import Base
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.merchants.models import ApiKey, Merchant, WebhookSecret
from pinpay.vouchers.models import Voucher, VoucherBatch

__all__ = [
    "ApiKey",
    "AuditChainHead",
    "AuditRecord",
    "AuditSeal",
    "Base",
    "JournalEntry",
    "JournalLine",
    "Merchant",
    "Voucher",
    "VoucherBatch",
    "WebhookSecret",
]
