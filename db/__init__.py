"""Persistence: the pool, migrations and one repository per aggregate, in raw SQL."""
