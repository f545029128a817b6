"""Running the service: /metrics counts what happened, a read-only replica writes nothing, one log
line per request without the request's text."""

from __future__ import annotations

import json
import logging

import httpx
from helpers import recording
from serving import Server, add_key, left_behind


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample of Prometheus's text format (0 when it is not there)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head == (f"{name}{{{want}}}" if labels else name):
            return float(value)
    return 0.0


def test_metrics_count_requests_first_audio_cache_hits_corrections_and_models(workspace, tmp_path, capsys):
    key = add_key(workspace, "app", capsys)
    auth = {"Authorization": f"Bearer {key}"}
    with Server(workspace) as server:
        for _ in range(2):  # the second is answered from the cache
            assert httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Rojbaş. Ez baş im.",
                                                                      "response_format": "pcm"}, timeout=60).is_success
        with open(recording(tmp_path, "one.wav", 1), "rb") as audio:
            assert httpx.post(f"{server.url}/v1/feedback", headers=auth, files={"audio": audio},
                              data={"text": "Av sar e."}, timeout=60).status_code == 201
        assert httpx.post(f"{server.url}/v1/feedback", headers=auth, files={"audio": ("x.wav", b"not audio")},
                          data={"text": "Av sar e."}, timeout=60).status_code == 415
        httpx.get(f"{server.url}/no/such/thing")
        text = httpx.get(f"{server.url}/metrics").text
    assert metric(text, "kurmanji_tts_requests_total", route="/v1/audio/speech", status="200") == 2
    assert metric(text, "kurmanji_tts_requests_total", route="/v1/feedback", status="201") == 1
    assert metric(text, "kurmanji_tts_requests_total", route="unmatched", status="404") == 1  # never the path sent
    assert metric(text, "kurmanji_tts_cache_hits_total") == 1
    assert metric(text, "kurmanji_tts_first_audio_seconds_count", format="pcm") == 2
    assert metric(text, "kurmanji_tts_corrections_total", outcome="added") == 1
    assert metric(text, "kurmanji_tts_corrections_total", outcome="refused: undecodable audio") == 1
    synthesis, audio = metric(text, "kurmanji_tts_synthesis_seconds_total"), metric(text, "kurmanji_tts_audio_seconds_total")
    assert 0 < synthesis and 1.0 < audio < 10  # two sentences spoken once (the repeat came from the cache)
    assert 'kurmanji_tts_model_info{model="kurdish",weights="' in text
    assert metric(text, "kurmanji_tts_speech_in_progress") == 0
    assert "Rojbaş" not in text and "Av sar" not in text


def test_a_read_only_replica_speaks_and_lists_and_refuses_every_write(workspace, tmp_path, capsys):
    key = add_key(workspace, "app", capsys)
    auth = {"Authorization": f"Bearer {key}"}
    before = left_behind(workspace / "training")
    with Server(workspace, "--read_only", "--open_feedback") as server:
        spoken = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Rojbaş."}, timeout=60)
        listed = httpx.get(f"{server.url}/v1/models")
        pending = httpx.get(f"{server.url}/v1/feedback", headers=auth)
        with open(recording(tmp_path, "one.wav", 1), "rb") as audio:
            upload = httpx.post(f"{server.url}/v1/feedback", files={"audio": audio}, data={"text": "Av sar e."})
        vote = httpx.post(f"{server.url}/v1/ab", json={"text": "Rojbaş.", "a": "kurdish", "b": "kurdish", "winner": "a"})
        removal = httpx.delete(f"{server.url}/v1/feedback/x", headers=auth)
    assert spoken.is_success and listed.is_success and pending.json() == {"pending": [], "archived": []}
    for refused in (upload, vote, removal):
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    assert left_behind(workspace / "training") == before and not (workspace / "training" / "feedback").exists()


def test_each_request_is_logged_once_as_json_without_its_text(workspace, caplog):
    with caplog.at_level(logging.INFO, logger="kurdish_tts.requests"), Server(workspace, "--log_json") as server:
        httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Rojbaş. Ez baş im."}, timeout=60)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kurdish_tts.requests"]
    assert lines == [{"method": "POST", "route": "/v1/audio/speech", "status": 200, "seconds": lines[0]["seconds"]}]
    assert "Rojbaş" not in caplog.text


def test_the_bounded_load_benchmark_loses_nothing_across_a_model_swap(tmp_path):
    from helpers import load_script

    bench = load_script("bench/bench_load.py")
    output = tmp_path / "load.json"
    assert bench.main(["--clients", "2", "--seconds", "4", "--workers", "1", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["errors"] == 0 and report["speech_after_swap"] > 0  # speech went on being served after the swap
    assert report["pending"] == report["corrections_added"] > 0  # every correction taken in is pending
    assert set(report["per_kind"]) >= {"speech whole", "speech streamed", "correction"}


def test_a_vote_after_a_line_cut_short_by_a_crash_is_kept(tmp_path):
    from kurdish_tts.serving.votes import Votes

    votes = Votes(tmp_path)
    votes.add({"a": "x", "b": "y", "winner": "a"})
    with open(votes.path, "ab") as handle:
        handle.write('{"a": "x", "b": "y", "text": "Rojbaş"'.encode()[:-2])  # the power went mid-line, mid-"ş"
    votes.add({"a": "x", "b": "y", "winner": "b"})
    assert [vote["winner"] for vote in votes.read()] == ["a", "b"]  # the cut line alone is lost


def test_the_shelf_keeps_the_served_models_and_only_the_last_few_others_loaded(tmp_path):
    from kurdish_tts.serving.shelf import KEPT_OTHERS, Shelf

    for name in ["kurdish", *(f"kurdish-v{i}" for i in range(5))]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    loads = []
    shelf = Shelf([tmp_path / "kurdish"], load=lambda folder: loads.append(folder.name) or folder.name)
    for model_id in ["kurdish", *(f"kurdish-v{i}" for i in range(5)), "kurdish-v4", "kurdish-v0"]:
        assert shelf.get(model_id)[1].voice == model_id
    assert list(shelf.loaded) == ["kurdish", "kurdish-v4", "kurdish-v0"][: 1 + KEPT_OTHERS]  # served, then the latest
    assert loads == ["kurdish", *(f"kurdish-v{i}" for i in range(5)), "kurdish-v0"]  # v4 was still loaded, v0 not
