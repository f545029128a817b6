"""serve.py under abuse: bounded work per request, refusals before the body is read, keys that
open only what they say, nothing left behind by a kill, one error shape and no 500 for any input.
A real uvicorn on loopback (tests/serving.py); each test bounded in time."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import soundfile as sf
from helpers import ROOT, recording
from serving import Server, add_key, left_behind

from kurdish_tts.synthesis.voice import Voice
from kurdish_tts.text.normalizer import MAX_SENTENCE_CHARS

STANDIN = ROOT / "data" / "pretrained" / "model"


def raw_request(url: str, head: bytes, body: bytes = b"", wait_s: float = 10.0) -> tuple[bytes, float]:
    """Send `head` (request line and headers, without the blank line) and `body` over a socket and
    return what came back within `wait_s`, with the seconds it took to start coming; the answer ends
    with b"<closed>" when the server then closed the connection (within 2 s of its last piece)."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=wait_s) as connection:
        started = time.monotonic()
        connection.sendall(head + b"\r\n\r\n" + body)
        answer = connection.recv(65536)
        seconds = time.monotonic() - started
        connection.settimeout(2.0)
        closed = False
        try:  # the rest of the answer (it may come in several pieces), then the close
            while more := connection.recv(65536):
                answer += more
            closed = True
        except (TimeoutError, ConnectionResetError):
            pass
        return answer + (b"<closed>" if closed else b""), seconds


def message(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "code"}, body  # the one shape
    assert body["error"]["code"] == response.status_code
    return body["error"]["message"]


def test_long_sentences_are_cut_and_the_spoken_length_is_bounded(workspace):
    voice = Voice(STANDIN)
    for text in ("a" * 3999, "999999998 " * 100, "Ez diçim malê, tu li vir bimîne " * 30):
        pieces = voice.sentences(text)
        assert pieces and max(map(len, pieces)) <= MAX_SENTENCE_CHARS
    commas = voice.sentences(", ".join(["ez diçim malê û tu li vir bimîne"] * 12))
    assert all(p.startswith("ez diçim") and p.endswith("bimîne") for p in commas)  # cut where the commas are
    with Server(workspace) as server:
        raw = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "a" * 3999}, timeout=30)
        spelled = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "999999998 " * 50}, timeout=30)
        empty = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "  "}, timeout=30)
        tiny = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "a. " * 200}, timeout=30)
        longest = httpx.post(f"{server.url}/v1/audio/speech", timeout=60,
                             json={"input": "a" * server.args.max_text_chars, "response_format": "wav"})
    assert raw.status_code == 413 and "at most 600 (--max_text_chars)" in message(raw)
    assert spelled.status_code == 413 and "once numbers" in message(spelled)  # 500 characters that read as 4,000
    assert empty.status_code == 422 and '"input"' in message(empty) and "--text" not in message(empty)
    assert tiny.status_code == 413 and "200 sentences; at most 60" in message(tiny)
    assert longest.status_code == 200 and len(longest.content) > 16000


def test_key_and_size_refusals_come_before_the_body_is_read(workspace, capsys):
    key = add_key(workspace, "app", capsys)
    head = b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: "
    with Server(workspace, "--max_upload_mb", "1", "--body_timeout_s", "1", "--rate_limit", "3") as server:
        no_key, _ = raw_request(server.url, head + b"900000")  # announced, not a byte of it sent
        too_big, _ = raw_request(server.url, head + b"300000000\r\nAuthorization: Bearer " + key.encode())
        slow, slow_s = raw_request(server.url, b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                   + key.encode() + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                                   b"Content-Length: 100000", b"--b\r\n" + b"x" * 1000)  # then nothing more

        def chunks():
            yield b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
            for _ in range(40):
                yield b"x" * 65536  # 2.6 MB with no length announced

        chunked = httpx.post(f"{server.url}/v1/feedback", content=chunks(), timeout=30,
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data; boundary=b"})
        huge_json = httpx.post(f"{server.url}/v1/audio/speech", timeout=30,
                               content=json.dumps({"input": "ez " * 3_000_000}).encode())
        guesses = [httpx.get(f"{server.url}/v1/feedback", headers={"Authorization": f"Bearer guess{i}"}).status_code
                   for i in range(4)]
    assert no_key.startswith(b"HTTP/1.1 401")  # not 408: the body it waits for is never read
    assert no_key.endswith(b"<closed>")  # refused before its body came: the rest is not read
    assert too_big.startswith(b"HTTP/1.1 413")
    assert slow.startswith(b"HTTP/1.1 408") and 0.8 < slow_s < 10
    assert chunked.status_code == 413 and "--max_upload_mb" in message(chunked)
    assert huge_json.status_code == 413 and len(huge_json.content) < 500  # refused, and nothing echoed
    assert guesses == [401, 401, 429, 429]  # the 401 above counted too  # wrong keys cost requests like anything else
    assert left_behind(workspace / "training") == []


@pytest.fixture
def fixes(tmp_path) -> list[bytes]:
    """Three recordings a correction may be (distinct audio, so none is a duplicate of another)."""
    return [recording(tmp_path, f"{seed}.wav", seed).read_bytes() for seed in range(3)]


def upload(url: str, auth: dict, wav: bytes, **fields) -> httpx.Response:
    return httpx.post(f"{url}/v1/feedback", files={"audio": ("fix.wav", wav)},
                      data={"text": "ez ji te hez dikim", **fields}, headers=auth, timeout=60)


def test_open_feedback_opens_only_the_posts_and_entries_are_removed_by_their_key_or_an_admin(
        workspace, capsys, fixes):
    keys = {name: {"Authorization": f"Bearer {add_key(workspace, name, capsys, *extra)}"}
            for name, extra in (("app", ()), ("other", ()), ("moderator", ("--admin",)))}
    with Server(workspace, "--open_feedback") as server:
        url = server.url
        opened = upload(url, {}, fixes[0])
        wrong_key = upload(url, {"Authorization": "Bearer wrong"}, fixes[1])
        vote = httpx.post(f"{url}/v1/ab", json={"text": "ez", "a": "kurdish", "b": "kurdish-x", "winner": "a"})
        listing = httpx.get(f"{url}/v1/feedback")
        deleting = httpx.delete(f"{url}/v1/feedback/{opened.json()['id']}")
        mine = upload(url, keys["app"], fixes[1]).json()["id"]
        by_other = httpx.delete(f"{url}/v1/feedback/{mine}", headers=keys["other"])
        by_owner = httpx.delete(f"{url}/v1/feedback/{mine}", headers=keys["app"])
        open_by_app = httpx.delete(f"{url}/v1/feedback/{opened.json()['id']}", headers=keys["app"])
        theirs = upload(url, keys["other"], fixes[2]).json()["id"]
        by_admin = [httpx.delete(f"{url}/v1/feedback/{i}", headers=keys["moderator"]).status_code
                    for i in (opened.json()["id"], theirs)]
        listed = httpx.get(f"{url}/v1/feedback", headers=keys["other"])
        again = upload(url, {}, fixes[1])
        seen_by = {name: httpx.get(f"{url}/v1/feedback", headers=keys[name]).json()["pending"][0]["donor"]
                   for name in ("app", "moderator")}
    assert opened.status_code == 201 and vote.status_code == 404  # open: a vote gets as far as its models
    assert wrong_key.status_code == 401  # a wrong key is refused, not taken for no key
    assert again.status_code == 201 and seen_by == {"app": "open", "moderator": "open:127.0.0.1"}
    assert listing.status_code == deleting.status_code == 401
    assert by_other.status_code == 403 and "admin" in message(by_other) and by_owner.status_code == 200
    assert open_by_app.status_code == 403 and by_admin == [200, 200]
    assert listed.status_code == 200 and listed.json()["pending"] == []


def test_a_killed_service_leaves_nothing_that_a_restart_keeps(workspace, capsys, fixes):
    key = add_key(workspace, "app", capsys)
    data = workspace / "training"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--model", str(workspace / "models" / "kurdish"),
                                "--data_dir", str(data), "--port", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "serve.py did not start"
                time.sleep(0.2)
        body = (b"--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nez ji te hez dikim\r\n--b\r\n"
                b'Content-Disposition: form-data; name="audio"; filename="fix.wav"\r\n\r\n' + fixes[2] + b"\r\n--b--\r\n")
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
                               + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: "
                               + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) * 2 // 3])
            time.sleep(0.5)
            os.kill(process.pid, signal.SIGKILL)  # mid-upload
            process.wait(timeout=10)
    finally:
        process.kill()
    assert left_behind(data) == []  # an upload is held in memory until it is stored
    # what a service killed at other moments leaves: an older version's spooled upload, an atomic
    # write cut short, a wav whose entry was never written
    (data / "service" / "uploads").mkdir(parents=True)
    (data / "service" / "uploads" / "tmpab12.wav").write_bytes(fixes[0])
    (data / "feedback" / "pending" / "wavs").mkdir(parents=True)
    (data / "feedback" / "pending" / ".entries.json.x1.tmp").write_text("[")
    (data / "feedback" / "pending" / "wavs" / "fb_0-123456789abc.wav").write_bytes(fixes[1])
    assert left_behind(data) == ["feedback/pending/.entries.json.x1.tmp", "service/uploads/tmpab12.wav"]
    with Server(workspace):  # the restart sweeps
        pass
    assert left_behind(data) == [] and not list((data / "feedback" / "pending" / "wavs").iterdir())


def test_no_input_gets_a_500_and_every_refusal_has_one_shape(workspace, capsys, fixes):
    auth = {"Authorization": f"Bearer {add_key(workspace, 'app', capsys)}"}
    wav = fixes[1]
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(16000 * 3600, np.int16), 16000, format="FLAC")
    hour = buffer.getvalue()
    form = (b"--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n%s\r\n--b\r\n"
            b'Content-Disposition: form-data; name="audio"; filename="%s"\r\n\r\n' + wav + b"\r\n--b--\r\n")
    multipart = {**auth, "Content-Type": "multipart/form-data; boundary=b"}
    with Server(workspace) as server:
        url = server.url
        first = upload(url, auth, fixes[0])
        answers = {
            "nul in the file name": httpx.post(f"{url}/v1/feedback", headers=multipart, timeout=60,
                                               content=form.replace(b"%s", b"ez ji te hez dikim", 1).replace(
                                                   b"%s", b"a\x00b.wav")),
            "text not UTF-8": httpx.post(f"{url}/v1/feedback", headers=multipart, timeout=60,
                                         content=form.replace(b"%s", b"ez ji te hez dik\xeem", 1).replace(b"%s", b"x.wav")),
            "a huge field": upload(url, auth, fixes[1], note="x" * 200_000),
            "consent unknown": upload(url, auth, fixes[1], consent="everything"),
            "model not served": upload(url, auth, fixes[1], model="../../etc"),
            "an unknown field": upload(url, auth, fixes[1], colour="red"),
            "not a form": httpx.post(f"{url}/v1/feedback", headers=auth, json={"text": "ez"}),
            "a boundary of 300 characters": httpx.post(f"{url}/v1/feedback", content=b"--x\r\n", headers={
                **auth, "Content-Type": "multipart/form-data; boundary=" + "b" * 300}),
            "too many parts": httpx.post(f"{url}/v1/feedback", headers=auth, files={"audio": ("a.wav", wav)},
                                         data={"text": "ez", "note": "n"} | {f"x{i}": "y" for i in range(10)}),
            "an hour of silence in 180 kB": httpx.post(f"{url}/v1/feedback", headers=auth, timeout=60,
                                                        files={"audio": ("long.flac", hour)}, data={"text": "ez"}),
            "no such endpoint": httpx.get(f"{url}/v1/nothing"),
            "wrong method": httpx.put(f"{url}/v1/audio/speech"),
            "speech without input": httpx.post(f"{url}/v1/audio/speech", json={"inptu": "x" * 5000}),
            "speech not JSON": httpx.post(f"{url}/v1/audio/speech", content=b"\xff\xfe{"),
            "vote for a model against itself": httpx.post(f"{url}/v1/ab", headers=auth, json={
                "text": "ez", "a": "kurdish", "b": "tts-1", "winner": "a"}),
            "vote with long text": httpx.post(f"{url}/v1/ab", headers=auth, json={
                "text": "ez " * 300, "a": "kurdish", "b": "tts-1", "winner": "a"}),
            "vote not JSON": httpx.post(f"{url}/v1/ab", headers=auth, content=b"winner=a"),
        }
        pending = httpx.get(f"{url}/v1/feedback", headers=auth).json()["pending"]
    named = answers.pop("nul in the file name")
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert first.status_code == named.status_code == 201 and all(400 <= s < 500 for s in statuses.values()), statuses
    assert statuses["text not UTF-8"] == 422 and "UTF-8" in message(answers["text not UTF-8"])
    assert statuses["a huge field"] == 413 and statuses["consent unknown"] == 422
    assert statuses["vote for a model against itself"] == 422 and statuses["vote with long text"] == 413
    assert statuses["an hour of silence in 180 kB"] == 413 and "3600 s as recorded" in message(
        answers["an hour of silence in 180 kB"])  # refused before it is decoded
    for name, answer in answers.items():
        text = message(answer)
        assert "x" * 100 not in text and len(text) < 300, name  # one line, the input never echoed
    assert [e["id"] for e in pending] == [first.json()["id"], named.json()["id"]]


def test_models_docs_page_headers_and_forwarded_addresses(workspace):
    with Server(workspace, "--rate_limit", "3") as server:
        models = httpx.get(f"{server.url}/v1/models").json()["data"]
        docs = [httpx.get(f"{server.url}{path}").status_code for path in ("/docs", "/openapi.json")]
        page = httpx.get(f"{server.url}/")
        forwarded = [httpx.get(f"{server.url}/v1/ab", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                     for i in range(3)]
    with Server(workspace, "--docs", "--trust_proxy", "--rate_limit", "2") as server:
        documented = [httpx.get(f"{server.url}{path}").status_code for path in ("/docs", "/openapi.json")]
        proxied = [httpx.get(f"{server.url}/v1/ab", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                   for i in range(3)]
    assert models and all(set(m) == {"id", "object", "owned_by", "kind", "voices"} for m in models)
    assert str(workspace) not in json.dumps(models)
    assert docs == [404, 404] and documented == [200, 200]
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert forwarded == [200, 200, 429] and proxied == [200, 200, 200]  # the header counts behind a proxy only


def test_a_voice_is_asked_for_by_name_or_ascii_digits_only():
    from types import SimpleNamespace

    from kurdish_tts.serving.errors import ServiceError
    from kurdish_tts.serving.routes.speech import speaker_of

    config = SimpleNamespace(num_speakers=3, voices=["rojda", "azad", "hevi"])
    voice = SimpleNamespace(config=config, voices=config.voices)
    assert [speaker_of(voice, name) for name in ("2", "azad", "hevi", None, "alloy", "Nova")] == [2, 1, 2, 0, 0, 0]
    assert speaker_of(SimpleNamespace(config=SimpleNamespace(num_speakers=1), voices=[]), "anything") is None
    for name in ("²", "①", "9" * 5000, "3", "-1", "Rojda"):
        with pytest.raises(ServiceError) as refused:
            speaker_of(voice, name)
        assert refused.value.status == 422 and len(str(refused.value)) < 100  # the input is not echoed whole
