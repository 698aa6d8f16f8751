"""The projector's domain, by phase: pure, typed, no I/O.

``state`` (a company's typed sync state) <- ``facts`` (what each fact does, one rule
per fact type) and ``answers`` (what each Xero answer does); ``decisions`` (which Xero
commands follow); ``projection`` (the read model's document rows); ``aggregate``
(the eventsourcing aggregate, which stores only the facts and answers).
"""
