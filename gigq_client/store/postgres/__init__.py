"""The PostgreSQL store: one database shared by every daemon and client on every host.

Importing it needs the optional driver (pip install 'gigqd[postgres]'); gigq_client
imports it only when it is given a postgresql:// URL.
"""

from .store import PostgresStore

__all__ = ["PostgresStore"]
