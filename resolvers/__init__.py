"""Use cases: one function, one transaction, authorisation included."""
