"""A stand-in Frappe app for the declaration tests (put on sys.path by the tests)."""
