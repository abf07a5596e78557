"""The service tests' Redis database fixture, for the processes these tests start."""

from tests.service.conftest import redis_db

__all__ = ["redis_db"]
