"""The test suite of tray-stt; a package so that tests/support imports as ``tests.support``."""
