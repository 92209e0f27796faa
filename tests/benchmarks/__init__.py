"""The performance benchmark of django-flowmachine: ``python -m tests.benchmarks``.

It compares a step of a flowmachine flow with the same step written as a plain
``FormView`` (the floor) and as django-formtools' ``SessionWizardView``, counts
store work per request, measures how per-step time scales with the size and
depth of a flow, and drives the demo behind gunicorn for throughput. See
``docs/performance.md`` and ``python -m tests.benchmarks --help``.

Nothing here is imported by the test suite except through a subprocess: the
benchmark configures Django itself.
"""
