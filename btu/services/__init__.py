"""The app's services: the Frappe side of each feature. They read and write the
database and Redis, and call :mod:`btu.core` for every decision."""
