"""Performance benchmarks for Meridian (issue 10): `python -m bench`, see bench/README.md."""
