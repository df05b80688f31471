"""The parts of bench/postgres_compare.py: the server, the systems, their clients, phases, report."""
