"""What gunicorn.conf.py computes, one job a module, none of which imports the app: the
run-time settings and their checks (settings), one log format for Gunicorn and the app (logs),
and what an option adds, in a module of its own."""

import os

# A folder in memory, where a slow or read-only disk cannot stall what is written to it: the
# workers' heartbeats, and any other file the server writes as it runs.
MEMORY = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
