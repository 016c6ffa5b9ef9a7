"""The flask-talk demo: a small news site whose readers comment in Talk, signed in by the site.

``flask --app demo run`` (or ``scripts/demo.sh``). With no ``TALK_URL`` a built-in Talk
stand-in serves the comment stream, so the whole loop runs on one machine.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from flask_talk import TalkAuth

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("demo")


def _instance_secret(app: Flask, filename: str, label: str, make: Any) -> str:
    """A development secret kept in the instance folder: created once, reused after."""
    path = Path(app.instance_path) / filename
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    app.logger.warning("created a development %s in %s (never use it in production)", label, path)
    return value


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the demo site. ``test_config`` overrides everything (tests use it)."""
    instance = os.environ.get("DEMO_INSTANCE_PATH")
    app = Flask(__name__, instance_path=os.path.abspath(instance) if instance else None,
                instance_relative_config=True, template_folder=str(ROOT / "templates"))
    app.config.from_mapping(DEMO_SEED_READERS=True)
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or _instance_secret(
            app, "flask-secret-key.txt", "session key (SECRET_KEY)", lambda: secrets.token_urlsafe(32))
    if not (app.config.get("TALK_JWT_SECRET") or app.config.get("TALK_JWT_SECRETS")
            or os.environ.get("TALK_JWT_SECRET") or os.environ.get("TALK_JWT_SECRETS")):
        app.config["TALK_JWT_SECRET"] = _instance_secret(
            app, "talk-dev-secret.txt", "Talk signing secret (TALK_JWT_SECRET)", lambda: secrets.token_urlsafe(48))
    app.config.setdefault("TALK_ROOT_URL", os.environ.get("TALK_ROOT_URL") or "http://127.0.0.1:5000/")
    if not (app.config.get("TALK_URL") or os.environ.get("TALK_URL")):
        app.config["TALK_STANDIN_URL"] = "/stand-in"

    talk = TalkAuth(app)
    app.extensions["demo_talk"] = talk

    from . import standin
    from . import views

    app.register_blueprint(views.bp)
    if app.config.get("TALK_STANDIN_URL"):
        app.register_blueprint(standin.bp, url_prefix=app.config["TALK_STANDIN_URL"])
        app.logger.info("no TALK_URL: comments are served by the built-in Talk stand-in at %s",
                        app.config["TALK_STANDIN_URL"])
    if app.config.get("DEMO_SEED_READERS"):
        views.seed_readers(app)
    return app
