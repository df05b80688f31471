"""Runs in the supervisor process: one single-threaded loop, the only sender of signals."""
