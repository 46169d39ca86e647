#!/usr/bin/env python3
"""Scores one tool's alerts against the farm's ground truth, and prints the results table.

usage: report.py score TRUTH_JSON RECEIVED_JSON TOOL [--since-ms MS]
    One JSON object: alerts, precision, story recall, duplicate alerts, and (for stories
    that first appeared after --since-ms) the latency from an item's first appearance to
    its story's first alert: median and max; and, for every alert whose item was first
    served after --since-ms, the latency from that serve (the poll that brought the item,
    as the farm saw it) to the alert's arrival: median and max.
usage: report.py table RESULTS_JSONL
    The rows bench/run.sh collected, as a Markdown table.
"""

import json
import statistics
import sys


def score(argv):
    truth_path, received_path, tool = argv[0:3]
    since = int(argv[4]) if len(argv) > 4 and argv[3] == "--since-ms" else None
    truth = json.load(open(truth_path))
    received = [r for r in json.load(open(received_path)) if r["tool"] == tool]
    by_link = {item["link"]: item for item in truth}
    relevant_stories = {}
    for item in truth:
        if item["relevant"]:
            first = relevant_stories.get(item["story"])
            if first is None or item["appeared_ms"] < first:
                relevant_stories[item["story"]] = item["appeared_ms"]

    true_alerts = 0
    unknown = 0
    story_alerts = {}
    for alert in received:
        item = by_link.get(alert["link"])
        if item is None:
            unknown += 1
            continue
        if item["relevant"]:
            true_alerts += 1
        story_alerts.setdefault(item["story"], []).append(alert["arrived_ms"])
    alerts = len(received)
    alerted_relevant = [s for s in story_alerts if s in relevant_stories]
    duplicates = sum(len(times) - 1 for times in story_alerts.values())
    latencies = []
    poll_latencies = []
    if since is not None:
        for story, appeared in relevant_stories.items():
            if appeared >= since and story in story_alerts:
                latencies.append((min(story_alerts[story]) - appeared) / 1000)
        for alert in received:
            item = by_link.get(alert["link"])
            served = item.get("served_ms") if item else None
            if served is not None and served >= since:
                poll_latencies.append((alert["arrived_ms"] - served) / 1000)
    report = {
        "tool": tool,
        "alerts": alerts,
        "precision": round(true_alerts / alerts, 3) if alerts else None,
        "relevant_stories": len(relevant_stories),
        "stories_alerted": len(alerted_relevant),
        "story_recall": round(len(alerted_relevant) / len(relevant_stories), 3)
        if relevant_stories
        else None,
        "duplicate_alerts": duplicates,
        "unknown_links": unknown,
    }
    if since is not None:
        new_stories = sum(1 for a in relevant_stories.values() if a >= since)
        report["new_stories"] = new_stories
        report["new_stories_alerted"] = len(latencies)
        report["latency_median_s"] = round(statistics.median(latencies), 2) if latencies else None
        report["latency_max_s"] = round(max(latencies), 2) if latencies else None
        report["alerts_after_poll"] = len(poll_latencies)
        report["poll_latency_median_s"] = (
            round(statistics.median(poll_latencies), 3) if poll_latencies else None
        )
        report["poll_latency_max_s"] = round(max(poll_latencies), 3) if poll_latencies else None
    print(json.dumps(report))


COLUMNS = [
    ("tool", "tool"),
    ("scenario", "scenario"),
    ("wall_s", "wall s"),
    ("cpu_s", "CPU s"),
    ("rss_mb", "peak RSS MB"),
    ("requests", "requests"),
    ("not_modified", "304s"),
    ("items_served", "items served"),
    ("alerts", "alerts"),
]


def table(argv):
    rows = [json.loads(line) for line in open(argv[0]) if line.strip()]
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(row.get(key, "")) for key, _ in COLUMNS) + " |")


def main():
    if sys.argv[1] == "score":
        score(sys.argv[2:])
    elif sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
