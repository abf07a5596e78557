"""Tests of the delivery log and the archive; the same suite runs on SQLite and PostgreSQL."""
