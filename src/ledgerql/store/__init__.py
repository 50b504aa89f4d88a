"""Persistence behind one interface: SQLite by default, PostgreSQL when a database URL is set."""
