"""Local state: SQLite (WAL), numbered migrations, repositories."""
