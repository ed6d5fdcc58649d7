"""X-Ray traces as the demo shows them: a local daemon that keeps what the functions send, and
one trace drawn as a waterfall, in the terminal and as an SVG.

Lambda runs an X-Ray daemon beside each function; the functions send it one UDP datagram per
subsegment (a JSON header line, then the document) at AWS_XRAY_DAEMON_ADDRESS. `Daemon` is a
stand-in on a free loopback port: `cargo lambda watch` gives each invocation a sampled trace,
and the photos app traces each request and each upload's work, so everything the demo runs
arrives here. `waterfall` lays one trace out hop by hop: each subsegment under the one it
belongs to, when it started and how long it took, and how it ended.
"""

from __future__ import annotations

import html
import json
import socket
import threading
import time
from pathlib import Path


class Daemon:
    """A UDP listener keeping every segment document it receives."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.documents: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.socket.recv(70_000)
            except socket.timeout:
                continue
            header, _, document = data.decode(errors="replace").partition("\n")
            try:
                if json.loads(header) == {"format": "json", "version": 1}:
                    with self._lock:
                        self.documents.append(json.loads(document))
            except json.JSONDecodeError:
                pass

    def trace(self, trace_id: str, settle: float = 1.0) -> list[dict]:
        """The documents of one trace, once nothing more of it has come for `settle` seconds."""
        seen = -1
        while True:
            with self._lock:
                now = [d for d in self.documents if d.get("trace_id") == trace_id]
            if len(now) == seen:
                return now
            seen = len(now)
            time.sleep(settle)

    def traces_with(self, name: str) -> list[str]:
        """The trace ids holding a subsegment named `name`, the one with the most first."""
        counts: dict[str, int] = {}
        with self._lock:
            for d in self.documents:
                if d.get("name") == name:
                    counts[d["trace_id"]] = counts.get(d["trace_id"], 0) + 1
        return sorted(counts, key=lambda t: -counts[t])

    def close(self) -> None:
        self._stop.set()


def label(document: dict) -> str:
    """What a subsegment is: the AWS call's service and operation, or the unit of work and its subject."""
    name = document.get("name", "?")
    if document.get("namespace") == "aws":
        return f"{name} {document.get('aws', {}).get('operation', '')}".strip()
    notes = document.get("annotations", {})
    for field in ("path", "key", "cluster", "account", "account_id", "channel", "region", "size", "wave"):
        if field in notes:
            subject = notes[field]
            if field == "path":
                subject = f"{notes.get('method', '')} {subject}".strip()
            return f"{name} {subject}"
    return name


def status(document: dict) -> str:
    code = document.get("http", {}).get("response", {}).get("status")
    flags = [flag for flag in ("fault", "error", "throttle") if document.get(flag)]
    return " ".join(([str(code)] if code else []) + flags)


def rows(documents: list[dict]) -> list[dict]:
    """The trace's subsegments in tree order (each under its parent, by start), with depth and offsets in ms."""
    if not documents:
        return []
    ids = {d["id"] for d in documents}
    children: dict[str | None, list[dict]] = {}
    for d in documents:
        parent = d.get("parent_id") if d.get("parent_id") in ids else None
        children.setdefault(parent, []).append(d)
    start = min(d["start_time"] for d in documents)
    out: list[dict] = []

    def walk(parent: str | None, depth: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda d: d["start_time"]):
            out.append({"depth": depth, "label": label(d), "start_ms": (d["start_time"] - start) * 1000,
                        "duration_ms": (d.get("end_time", d["start_time"]) - d["start_time"]) * 1000,
                        "status": status(d), "aws": d.get("namespace") == "aws",
                        "fault": bool(d.get("fault") or d.get("throttle")), "error": bool(d.get("error"))})
            walk(d["id"], depth + 1)

    walk(None, 0)
    return out


def print_waterfall(title: str, trace_id: str, table: list[dict], width: int = 40) -> None:
    total = max((r["start_ms"] + r["duration_ms"] for r in table), default=1.0) or 1.0
    print(f"\n{title}\ntrace {trace_id}: {len(table)} subsegments over {total:.0f} ms")
    print(f"  {'hop':<44} {'start ms':>9} {'took ms':>8}  {'status':<9} timeline")
    for r in table:
        name = ("  " * r["depth"] + r["label"])[:44]
        left = int(r["start_ms"] / total * width)
        length = max(1, round(r["duration_ms"] / total * width))
        bar = " " * left + ("#" if not r["aws"] else "=") * min(length, width - left)
        print(f"  {name:<44} {r['start_ms']:>9.1f} {r['duration_ms']:>8.1f}  {r['status'] or '-':<9} |{bar:<{width}}|")


def write_svg(path: Path, title: str, trace_id: str, table: list[dict]) -> None:
    """The waterfall as an SVG: a row per subsegment, its bar on a shared time axis."""
    row, label_width, bars, top = 20, 360, 560, 56
    total = max((r["start_ms"] + r["duration_ms"] for r in table), default=1.0) or 1.0
    height = top + row * len(table) + 28
    width = label_width + bars + 140
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="10" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
             f'<text x="10" y="38" fill="#555555">X-Ray trace {html.escape(trace_id)}: {len(table)} subsegments, '
             f'{total:.0f} ms</text>']
    for tick in range(5):
        x = label_width + bars * tick / 4
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 24}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" fill="#777777" text-anchor="middle">'
                     f'{total * tick / 4:.0f} ms</text>')
    for n, r in enumerate(table):
        y = top + n * row
        if n % 2:
            parts.append(f'<rect x="0" y="{y - 2}" width="{width}" height="{row}" fill="#f6f8fa"/>')
        # X-Ray's colours: a fault (5xx, no answer) or throttle red, a client error (4xx) amber.
        colour = "#d1242f" if r["fault"] else "#bf8700" if r["error"] else "#2da44e" if r["aws"] else "#2f6fb5"
        x = label_width + bars * r["start_ms"] / total
        w = max(1.5, bars * r["duration_ms"] / total)
        parts.append(f'<text x="{10 + 14 * r["depth"]}" y="{y + 12}">{html.escape(r["label"][:48])}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{label_width + bars + 8}" y="{y + 12}" fill="#555555">'
                     f'{r["duration_ms"]:.1f} ms {html.escape(r["status"])}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")
