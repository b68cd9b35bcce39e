"""Tests of tests/support itself: the loopback realtime server and its SDK validation."""
