"""Structured JSON logs with the request id, and redaction as a mechanism rather than a habit."""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are secret wherever they appear in an event.
_SECRET_KEYS = re.compile(
    r"(pin|pins|api_key|apikey|authorization|password|passwd|secret|token|client_secret|"
    r"email|e_mail|cookie|csrf)",
    re.IGNORECASE,
)
# A PIN written in any of the forms a customer types it: 16 digits, grouped or not.
_PIN_TEXT = re.compile(r"(?<!\d)\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}(?!\d)")
_API_KEY_TEXT = re.compile(r"pinpay_[A-Za-z0-9_-]{20,}")
# Other credentials PinPay hands out, by their prefixes, and any JSON Web Token.
_SECRET_TEXT = re.compile(r"(?:ppcs|whsec)_[A-Za-z0-9_-]{20,}")
_JWT_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Capability tokens in URL paths (a payment page, an e-mail verification link open by the random
# token in their path); object ids such as pay_..., ref_..., out_..., evt_... stay readable.
_PATH_TOKEN_TEXT = re.compile(r"/(?!(?:pay|ref|out|evt)_)[A-Za-z0-9_-]{32,}")
_BASIC_TEXT = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._-]{8,}")
_EMAIL_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Fields that hold 16-digit serials by design: not secret, and needed to follow a voucher.
_SERIAL_KEYS = frozenset({"serial", "serials"})


def redact_text(text: str) -> str:
    text = _JWT_TEXT.sub("eyJ***", text)
    text = _PATH_TOKEN_TEXT.sub("/***", text)
    text = _BASIC_TEXT.sub(r"\1 ***", text)
    text = _SECRET_TEXT.sub("***_***", text)
    text = _API_KEY_TEXT.sub("pinpay_***", text)
    text = _EMAIL_TEXT.sub("***@***", text)
    return _PIN_TEXT.sub("****-****-****-****", text)


def _redact_value(key: str, value: Any) -> Any:
    if key in _SERIAL_KEYS:
        return value
    if _SECRET_KEYS.search(key):
        return "***"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(key, v) for v in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = _redact_value(key, event[key])
    return event


class RedactingFilter(logging.Filter):
    """The same redaction for records of the standard library's logging (uvicorn, SQLAlchemy,
    httpx): the message is rendered, masked, and frozen so no argument can bring a secret back."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def _redact_standard_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "httpx"):
        for handler in logging.getLogger(name).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    _redact_standard_logging()


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


log = structlog.get_logger("pinpay")
