#!/usr/bin/env python3
"""The peer a user would write instead of installing parleyd: a cron job with feedparser
and scikit-learn. Each run fetches every feed (conditional GET with the ETag and
Last-Modified it saved), keeps the items it has not seen, scores them by TF-IDF cosine
similarity to the seed articles, and POSTs one webhook per item over the threshold.

State (validators and seen item ids) lives in one JSON file, as such scripts keep it.
With --procs N the fetching and parsing is spread over N processes.

The threshold is the one with the best F1 on the labelled set's tune split
(corpus/us-iran/labelled/team.jsonl), found with --calibrate; it is not tuned on the farm.
"""

import argparse
import glob
import json
import os
import sys
import urllib.request
from multiprocessing import Pool

import feedparser
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

DEFAULT_THRESHOLD = 0.12  # best F1 (0.56) on the tune split: --calibrate


def fetch(job):
    url, etag, modified = job
    try:
        parsed = feedparser.parse(url, etag=etag, modified=modified)
    except Exception as err:  # a cron script logs and goes on
        return url, None, None, [], str(err)
    items = [
        (
            entry.get("id") or entry.get("link") or entry.get("title", ""),
            entry.get("title", ""),
            entry.get("summary", ""),
            entry.get("link", ""),
        )
        for entry in parsed.entries
    ]
    return url, parsed.get("etag"), parsed.get("modified"), items, None


def load_seeds(folder):
    texts = []
    for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    return texts


def build_model(seeds):
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    seed_matrix = vectorizer.fit_transform(seeds)
    return vectorizer, seed_matrix


def scores(vectorizer, seed_matrix, texts):
    if not texts:
        return []
    return cosine_similarity(vectorizer.transform(texts), seed_matrix).max(axis=1)


def calibrate(vectorizer, seed_matrix, labelled):
    rows = [json.loads(line) for line in open(labelled, encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r["split"] == "tune"]
    sims = scores(vectorizer, seed_matrix, [r["title"] + " " + r["summary"] for r in rows])
    best = (0.0, DEFAULT_THRESHOLD)
    for step in range(1, 60):
        threshold = step / 100
        tp = sum(1 for r, s in zip(rows, sims) if s >= threshold and r["label"])
        fp = sum(1 for r, s in zip(rows, sims) if s >= threshold and not r["label"])
        fn = sum(1 for r, s in zip(rows, sims) if s < threshold and r["label"])
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        best = max(best, (f1, threshold))
    print(f"best F1 on tune split {best[0]:.3f} at threshold {best[1]:.2f}")


def post(hook, title, link, score):
    body = json.dumps({"type": "alert", "article": {"title": title, "link": link}, "score": score})
    request = urllib.request.Request(
        hook, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=15).read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--seeds", default="corpus/us-iran")
    parser.add_argument("--hook")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--calibrate", metavar="LABELLED_JSONL")
    args = parser.parse_args()

    vectorizer, seed_matrix = build_model(load_seeds(args.seeds))
    if args.calibrate:
        calibrate(vectorizer, seed_matrix, args.calibrate)
        return

    state = {"feeds": {}, "seen": []}
    if os.path.exists(args.state):
        with open(args.state, encoding="utf-8") as f:
            state = json.load(f)
    seen = set(state["seen"])
    urls = [line.strip() for line in open(args.urls, encoding="utf-8") if line.strip()]
    jobs = [(u, *state["feeds"].get(u, [None, None])) for u in urls]
    if args.procs > 1:
        with Pool(args.procs) as pool:
            results = pool.map(fetch, jobs, chunksize=16)
    else:
        results = [fetch(job) for job in jobs]

    new = []
    for url, etag, modified, items, error in results:
        if error:
            print(f"{url}: {error}", file=sys.stderr)
            continue
        state["feeds"][url] = [etag, modified]
        for item_id, title, summary, link in items:
            key = url + "\0" + item_id
            if key not in seen:
                seen.add(key)
                new.append((title, summary, link))
    sims = scores(vectorizer, seed_matrix, [t + " " + s for t, s, _ in new])
    alerted = 0
    for (title, _, link), score in zip(new, sims):
        if score >= args.threshold and args.hook:
            post(args.hook, title, link, float(score))
            alerted += 1
    state["seen"] = sorted(seen)
    with open(args.state + ".tmp", "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(args.state + ".tmp", args.state)
    print(f"feeds {len(urls)} new items {len(new)} alerts {alerted}", file=sys.stderr)


if __name__ == "__main__":
    main()
