"""Worker metrics: exposition format parsed back, escaping, thread safety, the HTTP endpoint."""

from __future__ import annotations

import http.client
import math
import re
import threading
from collections.abc import Iterator

import pytest

from syncbot.worker.metrics import LOCKOUT_BUCKETS, Metrics, MetricsServer
from syncbot.worker.settings import MetricsSettings

# One sample line of text format 0.0.4: name, optional {labels}, value.
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')

Key = tuple[str, frozenset[tuple[str, str]]]


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)


def parse_labels(text: str) -> frozenset[tuple[str, str]]:
    labels = []
    position = 0
    while position < len(text):
        match = LABEL.match(text, position)
        assert match, f"bad labels at {text[position:]!r}"
        labels.append((match.group(1), unescape(match.group(2))))
        position = match.end()
    return frozenset(labels)


def parse(text: str) -> tuple[dict[str, str], dict[Key, float]]:
    """Types by family and values by (name, labels); fails on any line not in the format."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: dict[Key, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            assert name not in types
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert family in types or name in types, f"{name} sampled before its TYPE"
            key = (name, parse_labels(labels or ""))
            assert key not in samples, f"repeated sample {key}"
            samples[key] = float(value)
    return types, samples


def value(samples: dict[Key, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_fresh_metrics_render_every_family() -> None:
    types, samples = parse(Metrics().render())
    assert types == {
        "syncbot_runs_total": "counter",
        "syncbot_actions_total": "counter",
        "syncbot_failed_steps_total": "counter",
        "syncbot_last_success_timestamp_seconds": "gauge",
        "syncbot_run_duration_seconds": "histogram",
        "syncbot_hr_to_lockout_seconds": "histogram",
    }
    assert value(samples, "syncbot_actions_total", kind="disable") == 0
    assert value(samples, "syncbot_last_success_timestamp_seconds") == 0
    assert value(samples, "syncbot_hr_to_lockout_seconds_count") == 0


def test_runs_and_actions_add_up() -> None:
    metrics = Metrics(clock=lambda: 1_790_000_000.5)
    metrics.run_finished(
        trigger="file", ok=True, actions={"disable": 2, "grant": 1}, failed=0, seconds=3.5
    )
    metrics.run_finished(trigger="file", ok=False, actions={"disable": 1}, failed=2, seconds=0.2)
    metrics.run_finished(trigger="push", ok=True, actions={}, failed=0, seconds=700)
    _, samples = parse(metrics.render())
    assert value(samples, "syncbot_runs_total", trigger="file", result="success") == 1
    assert value(samples, "syncbot_runs_total", trigger="file", result="failure") == 1
    assert value(samples, "syncbot_runs_total", trigger="push", result="success") == 1
    assert value(samples, "syncbot_actions_total", kind="disable") == 3
    assert value(samples, "syncbot_actions_total", kind="grant") == 1
    assert value(samples, "syncbot_actions_total", kind="revoke") == 0
    assert value(samples, "syncbot_failed_steps_total") == 2
    assert value(samples, "syncbot_last_success_timestamp_seconds") == 1_790_000_000.5
    duration = "syncbot_run_duration_seconds"
    assert value(samples, f"{duration}_count") == 3
    assert value(samples, f"{duration}_sum") == pytest.approx(703.7)
    assert value(samples, f"{duration}_bucket", le="0.5") == 1
    assert value(samples, f"{duration}_bucket", le="5.0") == 2
    assert value(samples, f"{duration}_bucket", le="600.0") == 2
    assert value(samples, f"{duration}_bucket", le="1800.0") == 3
    assert value(samples, f"{duration}_bucket", le="+Inf") == 3


def test_lockout_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.4, 1.0, 4.0, 45.0, 4000.0, -3.0):
        metrics.lockout_latency(seconds)
    _, samples = parse(metrics.render())
    name = "syncbot_hr_to_lockout_seconds"
    buckets = {
        float(dict(labels)["le"]): count
        for (sample, labels), count in samples.items()
        if sample == f"{name}_bucket"
    }
    assert sorted(buckets) == [*LOCKOUT_BUCKETS, math.inf]
    assert buckets[1.0] == 3  # 0.4, 1.0 and the clamped -3.0
    assert buckets[5.0] == 4
    assert buckets[60.0] == 5
    assert buckets[3600.0] == 5
    assert buckets[math.inf] == 6
    counts = [buckets[b] for b in sorted(buckets)]
    assert counts == sorted(counts)
    assert value(samples, f"{name}_sum") == pytest.approx(4050.4)


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    odd = 'a"b\\c\nd'
    metrics.run_finished(trigger=odd, ok=True, actions={"kì lạ": 1}, failed=0, seconds=1)
    text = metrics.render()
    assert 'trigger="a\\"b\\\\c\\nd"' in text
    _, samples = parse(text)
    assert value(samples, "syncbot_runs_total", trigger=odd, result="success") == 1
    assert value(samples, "syncbot_actions_total", kind="kì lạ") == 1


def test_negative_counts_are_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError):
        metrics.run_finished(trigger="file", ok=True, actions={"grant": -1}, failed=0, seconds=1)
    with pytest.raises(ValueError):
        metrics.run_finished(trigger="file", ok=True, actions={}, failed=-1, seconds=1)
    _, samples = parse(metrics.render())
    assert value(samples, "syncbot_run_duration_seconds_count") == 0


def test_concurrent_updates_add_up() -> None:
    metrics = Metrics()
    threads, rounds = 8, 500
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(rounds):
            metrics.run_finished(
                trigger="timer", ok=True, actions={"disable": 1}, failed=1, seconds=0.1
            )
            metrics.lockout_latency(2.0)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    for _ in range(50):
        parse(metrics.render())  # rendering while others write stays consistent
    for worker in workers:
        worker.join()
    _, samples = parse(metrics.render())
    total = threads * rounds
    assert value(samples, "syncbot_runs_total", trigger="timer", result="success") == total
    assert value(samples, "syncbot_actions_total", kind="disable") == total
    assert value(samples, "syncbot_failed_steps_total") == total
    assert value(samples, "syncbot_hr_to_lockout_seconds_count") == total
    assert value(samples, "syncbot_run_duration_seconds_sum") == pytest.approx(total * 0.1)


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    metrics = Metrics()
    metrics.run_finished(trigger="push", ok=True, actions={"disable": 4}, failed=0, seconds=1)
    running = MetricsServer(MetricsSettings(host="127.0.0.1", port=0), metrics)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def get(server: MetricsServer, path: str, method: str = "GET") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_server_answers_metrics(server: MetricsServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
    _, samples = parse(body)
    assert value(samples, "syncbot_actions_total", kind="disable") == 4


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/"), ("GET", "/metricsx"), ("POST", "/metrics")]
)
def test_server_answers_404_otherwise(server: MetricsServer, method: str, path: str) -> None:
    assert get(server, path, method).status == 404
