"""Customer passwords: argon2id (argon2-cffi's RFC 9106 defaults), hashed off the event loop.

Hashing takes tens of milliseconds of CPU and 64 MiB by design; run inline it would stall every
other request of the process, so it runs in a worker thread.
"""

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pinpay.errors import InvalidRequestParameter

MIN_LENGTH = 10
# argon2 takes any length, but a megabyte of "password" is a way to burn our CPU.
MAX_LENGTH = 256

_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidRequestParameter(
            f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters", param="password"
        )


async def hash_password(password: str, *, check: bool = True) -> str:
    """The argon2id hash of a new password (`check=False` to rehash one that was accepted
    under older rules)."""
    if check:
        check_strength(password)
    return await asyncio.to_thread(_hasher.hash, password)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash("decoy password, never anyone's")


async def verify_password(stored: str | None, password: str) -> bool:
    """True if `password` matches. Without a stored hash (unknown e-mail, no password set) a
    decoy is verified instead, so that the answer takes as long either way."""
    if len(password) > MAX_LENGTH:
        return False

    def verify() -> bool:
        try:
            return _hasher.verify(stored or _decoy_hash(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(stored: str) -> bool:
    """True when `stored` was made with weaker parameters than today's: rehashed at login."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False
