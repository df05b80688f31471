"""gigqctl and gigq: short-lived commands that steer a daemon and manage jobs."""
