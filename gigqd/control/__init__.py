"""The control socket: gigqctl talks to a running supervisor over it."""
