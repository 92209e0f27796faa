"""``python -m tests.benchmarks``: run the benchmark and print the table."""

from tests.benchmarks.run import main

raise SystemExit(main())
