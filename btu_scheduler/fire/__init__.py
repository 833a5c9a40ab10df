"""The fire path: everything between "this item is due" and "its outcome is recorded".

One module per concept (PROTOCOL.md "Firing" and "Batch firing"):

- :mod:`~btu_scheduler.fire.dispatch`: claims due fires in Redis and owns each fire until
  its outcome is recorded (the :class:`~btu_scheduler.fire.dispatch.Dispatcher`);
- :mod:`~btu_scheduler.fire.retry`: when a fire is tried again (backoff, deadline);
- :mod:`~btu_scheduler.fire.records`: writes outcomes to ``btu:{site}:fires``;
- :mod:`~btu_scheduler.fire.batching`: groups fires into ``enqueue_batch`` requests and
  falls back to single requests for a site that does not know them;
- :mod:`~btu_scheduler.fire.client`: the HTTP client that carries the requests;
- :mod:`~btu_scheduler.fire.answers`: turns an HTTP answer into a per-fire outcome;
- :mod:`~btu_scheduler.fire.sender`: the interface between the dispatcher and a sender;
- :mod:`~btu_scheduler.fire.endpoint`: blocking calls to the site (``republish_all``).
"""
