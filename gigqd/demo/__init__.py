"""`make demo`: a small workflow that shows the promises at work."""
