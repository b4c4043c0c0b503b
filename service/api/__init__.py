"""HTTP routes (SPEC 8). Thin: check who asks, validate, call store / solver / booking.

One module per concern in ``routes/``, each with its own OpenAPI tag; what routes depend
on (the caller, the database, the settings) in ``deps.py``. Routes that run numpy or
CP-SAT are plain ``def`` so they run in the thread pool.
"""

from fastapi import APIRouter

from ..errors import error_responses
from .routes import (
    auth,
    feeds,
    home,
    inbound,
    people,
    plans,
    programs,
    scheduling,
    series,
    writeback,
)

# Every route needs a token or a sign-in (but those that sign in) and reads its
# parameters; any request body may be too large.
router = APIRouter(prefix="/api", responses=error_responses(401, 413, 422, 503))
router.include_router(programs.router)
router.include_router(scheduling.router)
router.include_router(series.router)
router.include_router(plans.router)
router.include_router(feeds.router)
router.include_router(home.router)
router.include_router(auth.router)
router.include_router(people.router)
router.include_router(inbound.router)
router.include_router(writeback.router)
