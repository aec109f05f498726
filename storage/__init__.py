"""Persistence: the async engine, SQLModel tables, repository functions and Alembic migrations."""
