"""Lower bounds: the fewest requests (and round trips) the clouds' own limits allow.

* Reads: pages of the largest size each API allows. Google ``events.list``: ``maxResults`` up
  to 2,500 (api-spec §1.4). Graph ``calendarView/delta``: the docs give no maximum for
  ``odata.maxpagesize`` [U]; the sandbox honours up to 1,000, which is used here.
* Reads by id: a Graph series master's ``cancelledOccurrences`` is "only returned in a Get
  operation that specifies the ID" (api-spec §2.7), and delta never signals a cancelled
  occurrence (§2.5): each series the delta names is read by id, in ``$batch`` of 20, 4 in
  flight, after the delta pages that name it. The issue's formula leaves these out; both are
  reported (``*_listed``: pages and writes only).
* Writes: Google batches of 50 (what Calendar accepts in practice, library-notes §1; the guide
  says 1,000), one batch in flight; Graph ``$batch`` of 20 with 4 in flight (api-spec §2.9/2.10).
* Wall time at latency L: the round trips that cannot overlap, times L. Pages of one read
  follow each other (each names the next); the two sides' reads may overlap; writes come after
  the reads (they depend on the plan); Outlook's and Google's writes may overlap.
* Quota: with Q requests per S seconds (sliding window), R requests take at least
  floor((R - 1) / Q) * S seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

GOOGLE_MAX_PAGE = 2500
GRAPH_MAX_PAGE = 1000
GOOGLE_BATCH = 50
GRAPH_BATCH = 20
GRAPH_IN_FLIGHT = 4


def pages(items: int, page: int) -> int:
    """A read costs at least one request, even of an empty calendar."""
    return max(1, math.ceil(items / page))


def google_batches(writes: int) -> int:
    return math.ceil(writes / GOOGLE_BATCH)


def graph_batches(writes: int) -> int:
    return math.ceil(writes / GRAPH_BATCH)


def graph_waves(writes: int) -> int:
    return math.ceil(graph_batches(writes) / GRAPH_IN_FLIGHT)


@dataclass(frozen=True)
class SyncBound:
    """The least a sync can do: reads (rows per side) and writes (items per side)."""

    outlook_rows: int
    google_rows: int
    outlook_writes: int
    google_writes: int
    outlook_by_id: int = 0  # series masters, read by id for their cancelled occurrences

    @property
    def outlook_requests_listed(self) -> int:
        """The issue's formula: delta pages and write batches, no reads by id."""
        return pages(self.outlook_rows, GRAPH_MAX_PAGE) + graph_batches(self.outlook_writes)

    @property
    def outlook_requests(self) -> int:
        return self.outlook_requests_listed + graph_batches(self.outlook_by_id)

    @property
    def google_requests(self) -> int:
        return pages(self.google_rows, GOOGLE_MAX_PAGE) + google_batches(self.google_writes)

    @property
    def requests(self) -> int:
        return self.outlook_requests + self.google_requests

    def _round_trips(self, by_id: int) -> int:
        reads = max(
            pages(self.outlook_rows, GRAPH_MAX_PAGE) + graph_waves(by_id),
            pages(self.google_rows, GOOGLE_MAX_PAGE),
        )
        writes = max(graph_waves(self.outlook_writes), google_batches(self.google_writes))
        return reads + writes

    @property
    def round_trips(self) -> int:
        return self._round_trips(self.outlook_by_id)

    def wall_s(self, latency_ms: int) -> float:
        return self.round_trips * latency_ms / 1000

    def wall_s_listed(self, latency_ms: int) -> float:
        """The issue's formula: no round trips for reads by id."""
        return self._round_trips(0) * latency_ms / 1000

    def as_dict(self, latency_ms: int) -> dict[str, Any]:
        return {
            "outlook_rows": self.outlook_rows,
            "google_rows": self.google_rows,
            "outlook_writes": self.outlook_writes,
            "google_writes": self.google_writes,
            "outlook_by_id": self.outlook_by_id,
            "outlook_requests": self.outlook_requests,
            "outlook_requests_listed": self.outlook_requests_listed,
            "google_requests": self.google_requests,
            "requests": self.requests,
            "round_trips": self.round_trips,
            "wall_s": round(self.wall_s(latency_ms), 3),
            "wall_s_listed": round(self.wall_s_listed(latency_ms), 3),
        }


def quota_wall_s(requests: int, quota: int, seconds: float) -> float:
    if requests <= quota:
        return 0.0
    return math.floor((requests - 1) / quota) * seconds


def ratio(figure: float | None, bound: float | None) -> float | None:
    if figure is None or not bound:
        return None
    return round(figure / bound, 2)
