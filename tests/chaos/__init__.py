"""Fault-injection ("chaos") runs of the real daemon: no job lost, none completed twice."""
