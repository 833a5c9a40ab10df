"""The ``demo`` command and its parts: an embedded Redis, a stand-in for the site's
enqueue endpoint that enqueues real RQ jobs, and a few example task functions.

The stand-in also serves the end-to-end tests; none of this is used by ``run``.
"""
