#!/usr/bin/env bash
# Builds the fuzzers' seed corpora from files already in the repo: the feedparser test feeds
# and the sample feeds (each prefixed with a content-type selector byte), the shipped configs,
# and headlines from the labelled set.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/feed_bytes corpus/config_text corpus/alert_payload
n=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  { printf '\x00'; cat "$f"; } > "corpus/feed_bytes/seed-$n"
done < <(find ../tests/fixtures/feedparser ../examples/feeds -type f \( -name "*.xml" -o -name "*.json" -o -name "*.atom" \))
cp ../config/*.toml corpus/config_text/
cp ../systemd/*.example corpus/config_text/ 2>/dev/null || true
python3 - <<'PY'
import json
for i, line in enumerate(open("../corpus/us-iran/labelled/team.jsonl")):
    item = json.loads(line)
    if i % 5 == 0:
        body = item["title"] + "\x01https://news.example.org/a/" + str(i) + "\x01" + item["summary"]
        open(f"corpus/alert_payload/seed-{i}", "w").write(body)
PY
echo "seeds: $(ls corpus/feed_bytes | wc -l) feeds, $(ls corpus/config_text | wc -l) configs, $(ls corpus/alert_payload | wc -l) payloads"
