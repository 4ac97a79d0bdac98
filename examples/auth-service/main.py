"""Run the demo auth-service with uvicorn: one process, one worker (the async pool lives in its
event loop). HOST (default 127.0.0.1) and PORT (default 8000) come from the environment."""

import os

import uvicorn

from app import app

if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")),
                workers=1, log_level=os.environ.get("LOG_LEVEL", "info"))
