"""``service.main:app``: the app built from ``SLOTWISE_*`` settings (for uvicorn workers)."""

from .app import create_app

app = create_app()
