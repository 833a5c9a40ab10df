"""A module whose own code fails at import."""

raise ZeroDivisionError("division by zero")
