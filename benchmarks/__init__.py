"""Benchmarks that print a table; run each from the repository root as a module, e.g.

    .venv/bin/python -m benchmarks.bench_tray

so that both ``tray_stt`` and the test helpers in ``tests.support`` import without path edits.
"""
