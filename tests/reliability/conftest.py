from tests.reliability.private_postgres import private_postgres

__all__ = ["private_postgres"]
