"""``python -m flask_talk gen-secret``: the commands that need no app.

``flask talk gen-secret`` needs the app to start, and the app refuses to start without a
secret; this entry point breaks that circle for a site's very first secret.
"""
from __future__ import annotations

import click

from .cli import gen_secret

main = click.Group("flask_talk", help="flask-talk commands that need no app (see also `flask talk`).")
main.add_command(gen_secret)

if __name__ == "__main__":
    main()
