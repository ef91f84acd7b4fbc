"""Benchmarks for gepad: ``python -m bench <name>`` runs one, ``python -m bench`` lists them."""
