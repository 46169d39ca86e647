#!/usr/bin/env bash
# The soak run: `parleyd run` against a farm of changing feeds with faults, sampled while it
# runs; then every new story is checked against the alerts that arrived.
#
#   bench/soak.sh [FEEDS [MINUTES]]        # default 2000 feeds for 30 minutes
#
# Every INTERVAL seconds (default 30) a tenth of the feeds gain two items, STORIES (default
# 1) new relevant stories among them in every STORY_EVERY-th round (default 1), so new stories
# keep breaking all run long. The farm holds 72 distinct later stories: a run of more than
# 72 x STORY_EVERY rounds serves old ones again, which test joins, not lost alerts. FAULTS (default
# 0.05) of the feeds are slow, fail with 500, send a truncated body or a wrong content type
# on every other request. Writes target/soak/samples.csv (seconds, RSS KiB, store KiB,
# threads, open fds, farm requests, alerts received) and target/soak/score.json.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${1:-2000}
MINUTES=${2:-30}
PORT=${PORT:-18090}
INTERVAL=${INTERVAL:-30}
STORIES=${STORIES:-1}
STORY_EVERY=${STORY_EVERY:-1}
FAULTS=${FAULTS:-0.05}
OUT=$PWD/target/soak
CTL=http://127.0.0.1:$PORT/control
rm -rf "$OUT"
mkdir -p "$OUT"
cargo build --release --locked -p parleyd -p parleyd-bench --bin parleyd --bin farm
"$PWD/target/release/farm" serve --feeds "$FEEDS" --items 20 --port "$PORT" \
  --faults "$FAULTS" --dir "$OUT" > "$OUT/farm.log" 2>&1 &
FARM=$!
trap 'kill $FARM ${DAEMON:-} 2>/dev/null; true' EXIT
until curl -sf "$CTL/stats" > /dev/null; do sleep 0.2; done
cat > "$OUT/parleyd.toml" << TOML
[storage]
path = "store"

[poll]
interval = "${INTERVAL}s"

[log]
level = "warn"

[server]
listen = "127.0.0.1:$((PORT + 1))"

[[sinks]]
kind = "webhook"
name = "farm"
url = "http://127.0.0.1:$PORT/hook/soak"

TOML
cat "$OUT/feeds.toml" >> "$OUT/parleyd.toml"
"$PWD/target/release/parleyd" --config "$OUT/parleyd.toml" run > "$OUT/parleyd.log" 2>&1 &
DAEMON=$!
stat_of() {
  curl -sf "$CTL/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
until [ "$(stat_of requests)" -ge "$FEEDS" ]; do sleep 1; done
sleep "$INTERVAL"
since_ms=$(($(date +%s%N) / 1000000))
echo "seconds,rss_kib,store_kib,threads,fds,requests,alerts" > "$OUT/samples.csv"
start=$(date +%s)
end=$((start + MINUTES * 60))
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  stories=0
  [ $((round % STORY_EVERY)) -eq 0 ] && stories=$STORIES
  round=$((round + 1))
  curl -sf -XPOST "$CTL/advance?share=0.1&items=2&stories=$stories" > /dev/null
  sleep "$INTERVAL"
  printf '%s,%s,%s,%s,%s,%s,%s\n' "$(($(date +%s) - start))" \
    "$(awk '/VmRSS/ {print $2}' "/proc/$DAEMON/status")" \
    "$(du -sk "$OUT/store" | cut -f1)" \
    "$(awk '/Threads/ {print $2}' "/proc/$DAEMON/status")" \
    "$(ls "/proc/$DAEMON/fd" | wc -l)" \
    "$(stat_of requests)" "$(stat_of alerts_received)" | tee -a "$OUT/samples.csv"
done
# Let the last changes be polled and delivered before the score.
sleep $((INTERVAL * 2))
peak=$(awk '/VmHWM/ {print $2}' "/proc/$DAEMON/status")
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=
curl -sf "$CTL/truth" > "$OUT/truth.json"
curl -sf "$CTL/received" > "$OUT/received.json"
python3 bench/report.py score "$OUT/truth.json" "$OUT/received.json" soak --since-ms "$since_ms" \
  | tee "$OUT/score.json"
echo "peak RSS ${peak} KiB; samples in $OUT/samples.csv"
