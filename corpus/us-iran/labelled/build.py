#!/usr/bin/env python3
"""Writes team.jsonl from the item lists beside this file.

Every third item of the main lists (sorted by headline) goes to the held-out split, which
is never used for tuning; the rest is the tuning split. Probe lists keep their own split
name (probe1, …): each was written after the scorer was frozen, measured once, and only
then used for tuning. Run from this folder:
    python3 build.py > team.jsonl
"""
import json

ns = {}
for name in ("items_positive.py", "items_negative.py", "items_extra.py", "items_probe.py",
             "items_probe2.py", "items_probe3.py",
             "items_probe4.py", "items_probe5.py"):
    exec(open(name, encoding="utf-8").read(), ns)

rows = []
for event, category, title, summary in ns["POSITIVE"] + ns["EXTRA_POSITIVE"]:
    rows.append((True, event, category, title, summary))
for category, title, summary in ns["NEGATIVE"] + ns["EXTRA_NEGATIVE"]:
    rows.append((False, None, category, title, summary))

# Interleave positives and negatives deterministically so both splits get both kinds.
rows.sort(key=lambda r: r[3])
rows = [(r, "heldout" if i % 3 == 2 else "tune") for i, r in enumerate(rows)]
rows += [((label, event, category, title, summary), "probe1")
         for label, event, category, title, summary in ns["PROBE"]]
rows += [((label, event, category, title, summary), "probe2")
         for label, event, category, title, summary in ns["PROBE2"]]
rows += [((label, event, category, title, summary), "probe3")
         for label, event, category, title, summary in ns["PROBE3"]]
rows += [((label, event, category, title, summary), "probe4")
         for label, event, category, title, summary in ns["PROBE4"]]
rows += [((label, event, category, title, summary), "probe5")
         for label, event, category, title, summary in ns["PROBE5"]]
for index, ((label, event, category, title, summary), split) in enumerate(rows):
    print(json.dumps({
        "id": f"team-{index:03d}",
        "title": title,
        "summary": summary,
        "label": label,
        "event": event,
        "category": category,
        "split": split,
    }, ensure_ascii=False))
