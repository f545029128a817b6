"""GET /: the page that speaks a text, sends a correction and casts A/B votes, with a content
security policy that lets only its own inline script and style run (by their sha256)."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).resolve().parents[1] / "page.html"  # no build step: one file, plain JS

router = APIRouter()


@functools.cache
def page_and_policy() -> tuple[str, str]:
    html = PAGE.read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode('utf-8')).digest()).decode()}'"
                        for b in blocks)

    policy = (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
              "media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return html, policy


@router.get("/", response_class=HTMLResponse)
async def page():
    html, policy = page_and_policy()
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})
