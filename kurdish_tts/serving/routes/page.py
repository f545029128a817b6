"""GET /: the page that speaks a text, sends a correction and casts A/B votes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).resolve().parents[1] / "page.html"  # no build step: one file, plain JS

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def page():
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
