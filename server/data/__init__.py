"""Reference data for synthetic regions: Ningxia's administrative tree, Chinese names and
place-name parts. Plain Python tables, so they are typed, importable and need no file I/O."""
