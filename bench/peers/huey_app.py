"""The Huey application bench/compare.py runs: SqliteHuey on its defaults except the file name.

The consumer imports it as `huey_app.huey` (bench/peers and bench on PYTHONPATH);
the database file comes from the BENCH_HUEY_DB environment variable.
"""

import os

from huey import SqliteHuey

import benchjobs

huey = SqliteHuey(filename=os.environ["BENCH_HUEY_DB"])


@huey.task()
def noop(path="", i=0, x=0.0, t=0.0):
    benchjobs.noop(path, i, x, t)


@huey.task()
def sleep10(path="", i=0, x=0.0, t=0.0):
    benchjobs.sleep10(path, i, x, t)
