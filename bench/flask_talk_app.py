"""The WSGI entry the benchmark serves: the flask-talk demo app, configured by environment.

The driver sets ``SECRET_KEY``, ``TALK_JWT_SECRET``, ``TALK_ROOT_URL`` and
``DEMO_INSTANCE_PATH`` (a fresh folder: the demo's default SQLite stores and seeded readers).
"""
from demo import create_app

app = create_app()
