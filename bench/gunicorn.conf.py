"""gunicorn settings for the benchmark (and a starting point for production).

``gunicorn -c bench/gunicorn.conf.py flask_talk_app:app`` with ``bench/`` on the path.
The driver sets the BENCH_* variables; the defaults are what bench/README.md recommends.
"""
import os

bind = os.environ.get("BENCH_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("BENCH_WORKERS", "1"))
worker_class = os.environ.get("BENCH_WORKER_CLASS", "gthread")
# gthread: a few threads per worker give HTTP keep-alive and overlap SQLite waits;
# the GIL means more threads buy nothing for CPU-bound token work.
threads = int(os.environ.get("BENCH_THREADS", "4"))
keepalive = 30
backlog = 2048
accesslog = None
errorlog = "-"
loglevel = "warning"
# Load the app once in the master: workers share its pages and start faster.
preload_app = True
