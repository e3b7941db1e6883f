"""Test support: real sites, `kb` processes and the reliability suites, shared by tests/ and benchmarks/.

The tests run short forms of each suite (`from support.crash import crash_trials`); the long forms
run from `benchmarks/stress.py` and `benchmarks/perf.py`, which put `tests/` on `sys.path`.
"""
