"""The WSGI entry point: ``gunicorn statuspage.wsgi:app`` (or ``granian --interface wsgi``).

Importing it makes a served process: the rush's pages rendered, the refresher's thread
started (``statuspage.refresher.prepare_worker``).
"""

from .. import create_app
from .refresher import prepare_worker

app = create_app()
prepare_worker(app)
