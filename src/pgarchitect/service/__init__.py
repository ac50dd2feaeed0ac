"""The admin API: pgarchitect's findings over HTTP, behind bearer tokens.

``create_app(config)`` builds the FastAPI application (OpenAPI at ``/docs``);
``pgarchitect serve`` runs it with uvicorn. Routes parse, call one function of
:mod:`.findings` (or the knowledge base) and render; every error leaves in one
JSON shape (:mod:`.errors`).
"""
