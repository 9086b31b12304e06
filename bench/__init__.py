"""Benchmarks, run on demand with `make bench`; each prints Keel next to a raw baseline."""
