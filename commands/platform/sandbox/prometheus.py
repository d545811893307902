"""Per-process Prometheus counters of a fake app and their text exposition (format 0.0.4)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class ProcessCounters:
    """Reset on every (re)start, like a real process's in-memory registry."""

    by_code: Counter[str] = field(default_factory=Counter)
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    duration_sum: float = 0.0
    count: int = 0

    def observe(self, status: int, duration_s: float) -> None:
        self.by_code[str(status)] += 1
        index = bisect_left(BUCKETS, duration_s)
        if index < len(BUCKETS):
            self.bucket_counts[index] += 1
        self.duration_sum += duration_s
        self.count += 1

    def exposition(self, *, version: str, instance: str, started_at_s: float) -> str:
        lines = [
            "# HELP http_requests_total Total HTTP requests served, by status code.",
            "# TYPE http_requests_total counter",
        ]
        for code in sorted(self.by_code):
            lines.append(f'http_requests_total{{code="{code}"}} {self.by_code[code]}')
        lines += [
            "# HELP http_request_duration_seconds HTTP request duration in seconds.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(BUCKETS, self.bucket_counts, strict=True):
            cumulative += count
            lines.append(f'http_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines += [
            f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.count}',
            f"http_request_duration_seconds_sum {self.duration_sum!r}",
            f"http_request_duration_seconds_count {self.count}",
            "# HELP app_info The running version of the app.",
            "# TYPE app_info gauge",
            f'app_info{{version="{_escape(version)}",instance="{_escape(instance)}"}} 1',
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {started_at_s!r}",
        ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
