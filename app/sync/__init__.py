"""The sync engine: runs a pair against two providers and the state database."""
