"""Runs in a worker process: claims jobs and runs them one at a time."""
