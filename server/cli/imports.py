"""`tanfang import` (being written)."""
