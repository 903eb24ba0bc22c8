"""`tanfang seed` (being written)."""
