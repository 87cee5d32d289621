"""Servers that tests and benchmarks start and wait for: the app as `app.py serve`, PostgreSQL.

Below both tests/ and bench/, so neither imports the other for them; the app never imports it.
"""
