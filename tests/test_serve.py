"""serve.py: a real uvicorn on a loopback port, driven by httpx and the OpenAI SDK."""

from __future__ import annotations

import io
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import recording
from serving import Server, add_key, left_behind

import serve
import train_feedback
from kurdish_tts.corpus.audio import to_pcm16
from kurdish_tts.samples.signals import encode, speech_like
from kurdish_tts.serving.encoding import media_type
from kurdish_tts.serving.keys import key_digest
from kurdish_tts.serving.votes import wilson

TEXT = "Rojbaş. Ez 25 salî me. Hewa îro pir xweş e."


def test_speech_through_the_openai_sdk_streams_by_sentence_and_repeats_exactly(workspace):
    import httpx
    from openai import OpenAI

    with Server(workspace) as server:
        client = OpenAI(base_url=f"{server.url}/v1", api_key="not-needed-for-speech")
        wav = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav")
        audio, rate = sf.read(io.BytesIO(wav.content), dtype="float32")
        assert rate == 16000 and len(audio) > 16000  # three sentences and two pauses: more than a second
        with client.audio.speech.with_streaming_response.create(model="kurdish", voice="alloy", input=TEXT,
                                                                response_format="pcm") as response:
            streamed = b"".join(response.iter_bytes())
        with httpx.stream("POST", f"{server.url}/v1/audio/speech", timeout=60,
                          json={"model": "kurdish", "input": TEXT + " Spas.", "response_format": "pcm"}) as response:
            chunks = list(response.iter_raw())
            framing = response.headers.get("transfer-encoding"), response.headers.get("content-length")
        again = httpx.post(f"{server.url}/v1/audio/speech", json={"input": TEXT, "response_format": "pcm"}, timeout=60)
    samples = np.frombuffer(streamed, "<i2").astype(np.float32) / 32767
    assert np.abs(samples - audio[:len(samples)]).max() < 1e-3 and len(samples) == len(audio)  # the same speech
    assert again.content == streamed  # seeded (and cached): the same request, the same audio
    assert framing == ("chunked", None) and len(chunks) >= 4  # sent as it is made: no length known before


@pytest.mark.parametrize("response_format", ["flac", "mp3", "opus"])
def test_formats_that_cannot_be_joined_come_whole_and_decode(workspace, response_format):
    import httpx

    with Server(workspace) as server:
        response = httpx.post(f"{server.url}/v1/audio/speech", timeout=60,
                              json={"input": "Rojbaş.", "response_format": response_format, "speed": 1.5})
    assert response.status_code == 200 and response.headers["content-type"] == media_type(response_format)
    audio, _ = sf.read(io.BytesIO(response.content), dtype="float32")
    assert len(audio) > 1000 and np.abs(audio).max() > 0.01


@pytest.mark.parametrize("body, status, message", [
    ({"input": "x" * 50}, 413, "at most 40"),
    ({"input": "Rojbaş", "response_format": "aiff"}, 422, "response_format 'aiff'"),
    ({"input": "Rojbaş", "speed": 9}, 422, "speed 9"),
    ({"input": "?! …"}, 422, "nothing in"),
    ({"input": "Rojbaş", "model": "elsewhere"}, 404, "model 'elsewhere' is not served"),
])
def test_speech_requests_it_cannot_serve_are_refused_in_one_line(workspace, body, status, message):
    import httpx

    with Server(workspace, "--max_text_chars", "40") as server:
        response = httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=60)
    assert response.status_code == status and message in response.json()["error"]["message"]


def test_the_model_list_holds_model_folders_only(workspace):
    import httpx

    models = workspace / "models"
    shutil.copytree(models / "kurdish", models / "kurdish-20261201T120000Z")  # a feedback round's backup
    (models / "kurdish-discriminator").mkdir()
    (models / "kurdish-discriminator" / "config.json").write_text("{}")
    (models / "kurdish-runs").mkdir()
    with Server(workspace) as server:
        listed = httpx.get(f"{server.url}/v1/models").json()["data"]
        health = httpx.get(f"{server.url}/healthz").json()
    assert {m["id"]: m["kind"] for m in listed} == {"kurdish": "served", "kurdish-20261201T120000Z": "backup"}
    assert health["status"] == "ok"


def test_feedback_needs_a_key_lands_in_the_feedback_store_and_can_be_removed(workspace, tmp_path, capsys):
    import httpx

    key = add_key(workspace, "app", capsys)
    stored = json.loads((workspace / "training" / "service" / "keys.json").read_text())
    assert key not in json.dumps(stored) and stored["app"] == {"sha256": key_digest(key), "admin": False}  # a hash
    files = {"audio": ("fix.wav", recording(tmp_path, "fix.wav", 1).read_bytes(), "audio/wav")}
    form = {"text": "Ez li Amedê dijîm.", "spoken_text": "Ez li Amed dijîm.", "model": "kurdish", "consent": "CC0-1.0"}
    with Server(workspace) as server:
        refused = httpx.post(f"{server.url}/v1/feedback", files=files, data=form)
        wrong = httpx.post(f"{server.url}/v1/feedback", files=files, data=form, headers={"Authorization": "Bearer nope"})
        auth = {"Authorization": f"Bearer {key}"}
        added = httpx.post(f"{server.url}/v1/feedback", files=files, data=form, headers=auth)
        listed = httpx.get(f"{server.url}/v1/feedback", headers=auth).json()
        assert train_feedback.main(["--data_dir", str(workspace / "training"), "--list"]) == 0
        shown = capsys.readouterr().out
        removed = httpx.delete(f"{server.url}/v1/feedback/{added.json()['id']}", headers=auth)
        again = httpx.delete(f"{server.url}/v1/feedback/{added.json()['id']}", headers=auth)
    assert refused.status_code == wrong.status_code == 401 and "--add_key" in refused.json()["error"]["message"]
    assert added.status_code == 201 and added.json()["text"] == "ez li amedê dijîm"
    [entry] = listed["pending"]
    assert (entry["key_name"], entry["spoken_text"], entry["model"], entry["consent"]) == (
        "app", "Ez li Amed dijîm.", "kurdish", "CC0-1.0")
    assert added.json()["id"] in shown
    assert removed.status_code == 200 and again.status_code == 404
    store = workspace / "training" / "feedback" / "pending"
    assert json.loads((store / "entries.json").read_text()) == [] and not list((store / "wavs").glob("*.wav"))


def test_bad_uploads_are_refused_with_their_status_and_store_nothing(workspace, tmp_path, capsys):
    import httpx

    auth = {"Authorization": f"Bearer {add_key(workspace, 'app', capsys)}"}
    cases = [("big.wav", recording(tmp_path, "big.wav", 1, seconds=3.0).read_bytes(), "ez", 413, "over 0.3 MB"),
             ("x.wav", b"RIFF....garbage", "ez", 415, "undecodable audio"),
             ("long.wav", encode(speech_like(16.0, 4000, seed=3), 4000, "WAV"), "ez", 413, "too long"),
             ("fix.wav", recording(tmp_path, "fix.wav", 1).read_bytes(), "?!", 422, "nothing the model can say"),
             ("quiet.wav", encode(0.01 * speech_like(2.0, 16000, seed=4), 16000, "WAV"), "ez ji te hez dikim", 422,
              "too quiet"),
             ("fix.wav", recording(tmp_path, "fix.wav", 1).read_bytes(), "ez", 422, "too slow")]
    with Server(workspace, "--max_upload_mb", "0.3") as server:
        for name, data, text, status, message in cases:
            response = httpx.post(f"{server.url}/v1/feedback", files={"audio": (name, data)}, data={"text": text},
                                  headers=auth)
            assert response.status_code == status and message in response.json()["error"]["message"], name
            assert str(workspace) not in response.json()["error"]["message"]  # no server paths in an answer
    assert not (workspace / "training" / "feedback" / "pending" / "entries.json").is_file()
    assert left_behind(workspace / "training") == []


def test_an_upload_cut_off_midway_leaves_nothing_pending(workspace, tmp_path, capsys):
    import socket
    from urllib.parse import urlsplit

    import httpx

    key = add_key(workspace, "app", capsys)
    body = (b"--cut\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nez ji te hez dikim\r\n--cut\r\n"
            b'Content-Disposition: form-data; name="audio"; filename="cut.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            + recording(tmp_path, "cut.wav", 5).read_bytes() + b"\r\n--cut--\r\n")  # whole, it would be stored
    with Server(workspace) as server:
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port)) as connection:
            connection.sendall(b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
                               + b"\r\nContent-Type: multipart/form-data; boundary=cut\r\nContent-Length: "
                               + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2])
            time.sleep(0.5)  # the server has read half of the audio; then the client is gone
        time.sleep(0.5)
        listed = httpx.get(f"{server.url}/v1/feedback", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200 and listed.json()["pending"] == []
    assert not (workspace / "training" / "feedback" / "pending" / "entries.json").is_file()
    assert left_behind(workspace / "training") == []


def test_two_uploads_at_once_are_both_kept(workspace, tmp_path, capsys):
    import httpx

    auth = {"Authorization": f"Bearer {add_key(workspace, 'app', capsys)}"}
    clips = [recording(tmp_path, f"{i}.wav", i).read_bytes() for i in range(2)]
    with Server(workspace) as server:
        def send(i):
            return httpx.post(f"{server.url}/v1/feedback", files={"audio": (f"{i}.wav", clips[i])},
                              data={"text": f"gotin {i}"}, headers=auth, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, range(2)))
    assert [a.status_code for a in answers] == [201, 201]
    entries = json.loads((workspace / "training" / "feedback" / "pending" / "entries.json").read_text())
    assert sorted(e["text"] for e in entries) == ["gotin sifir", "gotin yek"]


def test_votes_give_win_rates_per_pair_with_a_wilson_interval_and_a_swap_starts_a_new_row(workspace, capsys):
    import httpx

    models = workspace / "models"
    shutil.copytree(models / "kurdish", models / "kurdish-20261201T120000Z")
    auth = {"Authorization": f"Bearer {add_key(workspace, 'app', capsys)}"}
    with Server(workspace) as server:
        for winner in ("a", "a", "b", "tie"):
            vote = {"text": "Rojbaş", "a": "kurdish", "b": "kurdish-20261201T120000Z", "winner": winner}
            assert httpx.post(f"{server.url}/v1/ab", json=vote, headers=auth).status_code == 201
        bad = httpx.post(f"{server.url}/v1/ab", json={**vote, "winner": "both"}, headers=auth)
        unkeyed = httpx.post(f"{server.url}/v1/ab", json=vote)
        [row] = httpx.get(f"{server.url}/v1/ab").json()["pairs"]
        replace_weights(models / "kurdish")  # a feedback round installs a new model: the service swaps it in
        httpx.post(f"{server.url}/v1/ab", json={**vote, "winner": "b"}, headers=auth)
        rows = httpx.get(f"{server.url}/v1/ab").json()["pairs"]
    assert bad.status_code == 422 and unkeyed.status_code == 401
    assert row["a"] == "kurdish" and row["count"] == 4 and row["a_wins"] == 2.5 and row["ties"] == 1
    low, high = wilson(2.5, 4)
    assert row["a_win_rate"] == 0.625 and row["a_win_rate_95"] == [round(low, 4), round(high, 4)] and low < 0.625 < high
    assert len(rows) == 2 and {r["count"] for r in rows} == {4, 1}


def replace_weights(folder: Path) -> None:
    """Install a changed model the way a round does: a new folder renamed over the old one."""
    from safetensors.torch import load_file, save_file

    new = folder.with_name(f".{folder.name}.new")
    shutil.copytree(folder, new)
    weights = load_file(str(new / "model.safetensors"))
    weights = {k: v * 1.05 if k.startswith("decoder.conv_post") else v for k, v in weights.items()}
    save_file(weights, str(new / "model.safetensors"), metadata={"format": "pt"})
    old = folder.with_name(f".{folder.name}.old")
    folder.rename(old)
    new.rename(folder)
    shutil.rmtree(old)


def test_a_new_model_is_served_without_a_restart(workspace):
    import httpx

    body = {"input": "Rojbaş.", "response_format": "pcm"}
    with Server(workspace) as server:
        before = httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=60).content
        replace_weights(workspace / "models" / "kurdish")
        after = httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=60).content
    assert before != after and len(before) == len(after)  # louder output of the same durations


def test_too_many_requests_answer_429_with_retry_after(workspace):
    import httpx

    with Server(workspace, "--rate_limit", "2") as server:
        answers = [httpx.get(f"{server.url}/v1/models") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429] and int(answers[2].headers["Retry-After"]) > 0


def test_keys_are_made_once_and_removed(workspace, capsys):
    add_key(workspace, "app", capsys)
    assert serve.main(["--data_dir", str(workspace / "training"), "--add_key", "app"]) == 1
    assert "exists" in capsys.readouterr().err
    assert serve.main(["--data_dir", str(workspace / "training"), "--remove_key", "app"]) == 0
    assert serve.main(["--data_dir", str(workspace / "training"), "--remove_key", "app"]) == 1
    assert "no key named 'app'" in capsys.readouterr().err


def test_start_up_problems_are_one_line_errors(workspace, capsys):
    import httpx

    data, model = ["--data_dir", str(workspace / "training")], workspace / "models" / "kurdish"
    broken = workspace / "models" / "broken"
    shutil.copytree(model, broken)
    (broken / "vocab.json").unlink()  # a copy that lost a file: refused now, not with a 500 on every request
    assert serve.main([*data, "--model", str(broken)]) == 1
    assert f"--model {broken} has no vocab.json" in capsys.readouterr().err
    pending = workspace / "training" / "feedback" / "pending"
    pending.mkdir(parents=True)
    (pending / "entries.json").write_text("[{", encoding="utf-8")
    assert serve.main([*data, "--model", str(model)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{pending / 'entries.json'} is damaged" in err and len(err.splitlines()) == 1
    keys = workspace / "training" / "service" / "keys.json"
    keys.parent.mkdir()
    keys.write_text("[]", encoding="utf-8")
    assert serve.main([*data, "--add_key", "app"]) == 1
    assert f"{keys} is damaged (not an object of key names)" in capsys.readouterr().err
    assert keys.read_text(encoding="utf-8") == "[]"
    (pending / "entries.json").unlink()
    with Server(workspace) as server:  # a request that needs the keys: the plain 500, the server's path kept to its log
        answer = httpx.get(f"{server.url}/v1/feedback", headers={"Authorization": "Bearer x"}, timeout=30)
    assert answer.status_code == 500 and "log says why" in answer.json()["error"]["message"] and "keys" not in answer.text


class SlowVoice:
    """Stands in for a voice that takes a while, so that requests pile up."""

    def __init__(self, voice, seconds: float):
        self.voice, self.seconds = voice, seconds
        self.config, self.sampling_rate, self.voices = voice.config, voice.sampling_rate, voice.voices

    def sentences(self, text):
        return self.voice.sentences(text)

    def speak(self, text, settings):
        time.sleep(self.seconds)
        return self.voice.speak(text, settings)

    def pieces(self, text, settings):
        time.sleep(self.seconds)
        yield from self.voice.pieces(text, settings)


def test_a_full_queue_answers_503_with_retry_after_and_the_page_and_cors_are_served(workspace):
    import httpx

    from kurdish_tts.synthesis.voice import Voice

    slow = lambda folder: SlowVoice(Voice(folder), 1.0)
    with Server(workspace, "--queue", "1", "--workers", "1", "--cors_origin", "https://app.example", load=slow) as server:
        httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Ez.", "response_format": "pcm"}, timeout=60)  # loaded
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, f"{server.url}/v1/audio/speech", timeout=60,
                                json={"input": "Rojbaş.", "response_format": "mp3"})
            time.sleep(0.5)  # the first is being spoken
            second = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Spas.", "response_format": "mp3"},
                                timeout=60)
            assert first.result().status_code == 200
        page = httpx.get(server.url)
        preflight = httpx.options(f"{server.url}/v1/audio/speech", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        too_big = httpx.post(f"{server.url}/v1/audio/speech", content=b"{" + b" " * 2_000_000 + b"}",
                             headers={"Origin": "https://app.example", "Content-Type": "application/json"})
    assert second.status_code == 503 and int(second.headers["Retry-After"]) > 0
    assert too_big.status_code == 413 and too_big.headers["access-control-allow-origin"] == "https://app.example"
    assert page.status_code == 200 and "MediaRecorder" in page.text and "/v1/ab" in page.text
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"


def chromium():
    """Headless Chromium through Selenium (Debian's chromium and chromium-driver), or a skip that says why."""
    driver_path = shutil.which("chromedriver")
    if driver_path is None or not any(shutil.which(name) for name in ("chromium", "chromium-browser")):
        pytest.skip("needs Debian's chromium and chromium-driver (bash .ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_the_page_speaks_a_sentence_and_sends_an_uploaded_correction(workspace, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    key = add_key(workspace, "page", capsys)
    upload = recording(tmp_path, "mine.wav", 1)
    with Server(workspace) as server:
        browser = chromium()
        try:
            browser.get(server.url)
            wait = WebDriverWait(browser, 60)
            wait.until(lambda b: b.find_element(By.ID, "model").get_attribute("value") == "kurdish")
            browser.find_element(By.ID, "speak").click()
            wait.until(lambda b: b.find_element(By.ID, "status").text == "Done.")
            assert browser.find_element(By.ID, "player").get_attribute("src").startswith("blob:")
            duration = browser.execute_script(
                "const a = document.getElementById('player');"
                "return new Promise(r => a.readyState >= 1 ? r(a.duration) : a.onloadedmetadata = () => r(a.duration));")
            assert duration > 0.5
            browser.find_element(By.ID, "key").send_keys(key)
            browser.execute_script("document.getElementById('key').dispatchEvent(new Event('change'))")
            browser.find_element(By.ID, "file").send_keys(str(upload))
            browser.find_element(By.ID, "correct").clear()
            browser.find_element(By.ID, "correct").send_keys("Ez bi kurdî diaxivim.")
            browser.find_element(By.ID, "send").click()
            wait.until(lambda b: b.find_element(By.ID, "status").text.startswith(("Thank you", "4")))
            assert browser.find_element(By.ID, "status").text.startswith("Thank you")
        finally:
            browser.quit()
    [entry] = json.loads((workspace / "training" / "feedback" / "pending" / "entries.json").read_text())
    assert entry["text"] == "ez bi kurdî diaxivim" and entry["donor"] == "page" and entry["model"] == "kurdish"


def test_a_request_in_flight_during_a_swap_finishes_on_the_model_it_started_with(workspace, tmp_path):
    import httpx

    from kurdish_tts.synthesis.voice import PAUSE_S, Settings, Voice

    shutil.copytree(workspace / "models" / "kurdish", tmp_path / "old")
    slow = lambda folder: SlowVoice(Voice(folder), 0.4)
    body = {"input": TEXT, "response_format": "pcm"}
    with Server(workspace, load=slow) as server:
        httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Ez.", "response_format": "pcm"}, timeout=60)  # loaded
        with ThreadPoolExecutor(1) as pool:
            during = pool.submit(httpx.post, f"{server.url}/v1/audio/speech", json=body, timeout=60)
            time.sleep(0.6)  # its first sentence is spoken by the old model
            replace_weights(workspace / "models" / "kurdish")
            spoken_during = during.result().content
        spoken_after = httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=60).content
    old = Voice(tmp_path / "old")
    sentences = old.sentences(TEXT)
    pause = np.zeros(int(PAUSE_S * old.sampling_rate), np.float32)
    expected = np.concatenate([x for i, s in enumerate(sentences)  # each sentence in the pieces it streams in
                               for x in (*old.pieces(s, Settings(speaking_rate=1.0, seed=i)), pause)][:-1])
    assert spoken_during == to_pcm16(expected).astype("<i2").tobytes()  # all of it the old model's
    assert spoken_after != spoken_during  # the next request: the new model, not the cache


def test_opus_at_a_rate_it_cannot_carry_is_refused_before_anything_is_spoken(workspace):
    import httpx
    from helpers import random_model

    from kurdish_tts.synthesis.voice import Voice

    random_model(workspace / "models" / "kurdish-22k", sampling_rate=22050)
    spoken = []

    class Counted(SlowVoice):
        def speak(self, text, settings):
            spoken.append(text)
            return self.voice.speak(text, settings)

    with Server(workspace, load=lambda folder: Counted(Voice(folder), 0.0)) as server:
        answer = httpx.post(f"{server.url}/v1/audio/speech", timeout=60,
                            json={"model": "kurdish-22k", "input": "Rojbaş.", "response_format": "opus"})
    assert answer.status_code == 422 and "this model speaks at 22050 Hz" in answer.text and spoken == []
