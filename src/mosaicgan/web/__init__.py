"""`mosaicgan serve`: a local web page over the same jobs as the CLI (`mosaicgan.jobs`).

settings.py   the served address and the limits (one frozen dataclass, from the flags)
guard.py      Host and Origin checks on every request (another site, DNS rebinding)
store.py      the work folder: uploads and results, names checked, nothing outside it, expiry
jobqueue.py   one job at a time per process, others queue; progress and cancel
inspect.py    what the review step shows: an upload's size, its faces (found once, cached), key frames
tasks.py      the page's job requests turned into `mosaicgan.jobs` calls
app.py        the HTTP routes (FastAPI) and the static page
server.py     uvicorn, the start-up warning and the clean-up on shutdown
"""
