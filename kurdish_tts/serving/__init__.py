"""The voice service behind serve.py.

    app.py        create_app: the FastAPI app, its CORS, error answers and routers
    state.py      Service: what the routes share (settings, models, stores, limits, worker)
    routes/       the HTTP routes: page, models (and /healthz), speech, feedback, votes
    shelf.py      the served models, loaded on first use and swapped when their folder changes
    worker.py     Synthesis: the thread pool, the bound on requests in progress, the answer cache
    encoding.py   wav and pcm streamed sentence by sentence; flac, mp3 and opus whole
    keys.py       access keys for writes (only their hashes are kept)
    limits.py     requests a minute per address or key
    votes.py      A/B votes and their win rates with a Wilson interval
    errors.py     ServiceError: a refusal with its HTTP status
    page.html     the page served at /: no build step, plain JS
"""
