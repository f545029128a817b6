"""The voice service behind serve.py.

    app.py        create_app: the FastAPI app, its CORS, error answers (one shape) and routers
    guard.py      Guard: bodies bounded in size and time before a route reads them; security headers
    forms.py      read_form: a multipart form read by its route after the key, strict UTF-8
    state.py      Service: what the routes share (settings, models, stores, limits, worker)
    routes/       the HTTP routes: page, models (and /healthz), speech, feedback, votes
    shelf.py      the served models, loaded on first use and swapped when their folder changes
    worker.py     Synthesis: the thread pool, the bound on requests in progress, the answer cache
    encoding.py   wav and pcm streamed sentence by sentence; flac, mp3 and opus whole
    keys.py       access keys for writes (only their hashes are kept)
    limits.py     requests a minute per address or key
    votes.py      A/B votes and their win rates with a Wilson interval
    errors.py     ServiceError: a refusal with its HTTP status; the one shape of every error
    page.html     the page served at /: no build step, plain JS
"""
