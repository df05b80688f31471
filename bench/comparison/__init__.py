"""The parts of bench/compare.py: systems, processes, phases, report."""
