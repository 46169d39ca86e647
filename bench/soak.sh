#!/usr/bin/env bash
# The soak run: `parleyd run` against a farm of changing feeds with faults, sampled while it
# runs; then every new story is checked against the alerts that arrived.
#
#   bench/soak.sh [FEEDS [MINUTES]]        # default 2000 feeds for 30 minutes
#
# Every INTERVAL seconds (default 30; also the daemon's poll interval) a share SHARE
# (default 0.1) of the feeds gain NEW_ITEMS (default 2) items each, STORIES (default 1) new
# relevant stories among them in every STORY_EVERY-th round (default 1), so new stories keep
# breaking all run long. The farm holds 72 distinct later stories: a run of more than
# 72 x STORY_EVERY rounds serves old ones again, which test joins, not lost alerts. FAULTS
# (default 0.05) of the feeds are slow, fail with 500, send a truncated body or a wrong
# content type on every other request. ITEMS (default 20) items a feed; LISTEN (default
# 127.0.0.1:PORT+1, the status server and /metrics on, as by default) sets [server] listen,
# "off" to measure without them; STORY_WINDOW sets
# parleyd's [classifier] story_window (its default when unset); PARLEYD runs another build
# (target/profiling/parleyd for perf) instead of the release one.
#
# Before the daemon starts, `farm floor` fetches and XML-scans every feed once (the floor
# row of bench/run.sh, on the same farm). The first, cold poll of every feed is measured
# apart: the steady state starts SETTLE seconds (default INTERVAL) after the farm has
# answered FEEDS requests. From then on the daemon's CPU time (utime + stime from
# /proc/PID/stat), RSS, threads and fds are sampled every SAMPLE seconds (default INTERVAL)
# for MINUTES; then the script waits one interval and a half minute, unsampled and with no
# new items, for the last round's alerts.
#
# Writes into target/soak/: samples.csv (seconds, RSS KiB, store KiB, threads, open fds,
# farm requests, alerts received, daemon CPU s, the machine's 1-minute load), floor.json,
# score.json (bench/report.py: alerts, precision, story recall, latency from an item's
# first appearance and from the poll that brought it) and summary.json (cold poll, steady
# state: CPU s per hour, share of one core, RSS band; peak RSS; floor; score).
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${1:-2000}
MINUTES=${2:-30}
PORT=${PORT:-18090}
INTERVAL=${INTERVAL:-30}
SHARE=${SHARE:-0.1}
NEW_ITEMS=${NEW_ITEMS:-2}
ITEMS=${ITEMS:-20}
STORIES=${STORIES:-1}
STORY_EVERY=${STORY_EVERY:-1}
FAULTS=${FAULTS:-0.05}
SAMPLE=${SAMPLE:-$INTERVAL}
SETTLE=${SETTLE:-$INTERVAL}
OUT=${OUT:-$PWD/target/soak}
CTL=http://127.0.0.1:$PORT/control
rm -rf "$OUT"
mkdir -p "$OUT"
cargo build --release --locked -p parleyd -p parleyd-bench --bin parleyd --bin farm
PARLEYD=${PARLEYD:-$PWD/target/release/parleyd}
"$PWD/target/release/farm" serve --feeds "$FEEDS" --items "$ITEMS" --port "$PORT" \
  --faults "$FAULTS" --dir "$OUT" > "$OUT/farm.log" 2>&1 &
FARM=$!
trap 'kill $FARM ${DAEMON:-} 2>/dev/null; true' EXIT
until curl -sf "$CTL/stats" > /dev/null; do sleep 0.2; done
"$PWD/target/release/farm" floor --urls "$OUT/urls.txt" | tee "$OUT/floor.json"
curl -sf -XPOST "$CTL/reset"
cat > "$OUT/parleyd.toml" << TOML
[storage]
path = "store"

[poll]
interval = "${INTERVAL}s"

[log]
level = "warn"

[server]
listen = "${LISTEN:-127.0.0.1:$((PORT + 1))}"
${STORY_WINDOW:+
[classifier]
story_window = \"$STORY_WINDOW\"
}
[[sinks]]
kind = "webhook"
name = "farm"
url = "http://127.0.0.1:$PORT/hook/soak"

TOML
cat "$OUT/feeds.toml" >> "$OUT/parleyd.toml"
"$PARLEYD" --config "$OUT/parleyd.toml" run > "$OUT/parleyd.log" 2>&1 &
DAEMON=$!
started=$(date +%s.%N)
TICKS=$(getconf CLK_TCK)
stat_of() {
  curl -sf "$CTL/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# The daemon's user + system CPU seconds so far (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may hold spaces).
cpu_of() {
  sed 's/^.*) //' "/proc/$1/stat" | awk -v t="$TICKS" '{printf "%.2f", ($12 + $13) / t}'
}
status_of() {
  awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"
}
until [ "$(stat_of requests)" -ge "$FEEDS" ]; do sleep 1; done
cold_s=$(echo "$(date +%s.%N) - $started" | bc)
sleep "$SETTLE"
cold_cpu=$(cpu_of "$DAEMON")
cold_peak=$(status_of "$DAEMON" VmHWM)
echo "cold poll: farm answered $FEEDS requests after ${cold_s}s; ${cold_cpu} CPU s and" \
  "peak RSS ${cold_peak} KiB by the start of the steady state"
since_ms=$(($(date +%s%N) / 1000000))
echo "seconds,rss_kib,store_kib,threads,fds,requests,alerts,cpu_s,load1" > "$OUT/samples.csv"
start=$(date +%s)
end=$((start + MINUTES * 60))
next_advance=$start
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  if [ "$(date +%s)" -ge "$next_advance" ]; then
    stories=0
    [ $((round % STORY_EVERY)) -eq 0 ] && stories=$STORIES
    round=$((round + 1))
    curl -sf -XPOST "$CTL/advance?share=$SHARE&items=$NEW_ITEMS&stories=$stories" > /dev/null
    next_advance=$((next_advance + INTERVAL))
  fi
  sleep "$SAMPLE"
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$(($(date +%s) - start))" \
    "$(status_of "$DAEMON" VmRSS)" \
    "$(du -sk "$OUT/store" | cut -f1)" \
    "$(status_of "$DAEMON" Threads)" \
    "$(ls "/proc/$DAEMON/fd" | wc -l)" \
    "$(stat_of requests)" "$(stat_of alerts_received)" "$(cpu_of "$DAEMON")" \
    "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/samples.csv"
done
steady_end=$(date +%s)
steady_cpu=$(cpu_of "$DAEMON")
# Let the last round's items be polled (an interval, give or take 10% jitter) and their
# alerts delivered before the score.
sleep $((INTERVAL * 11 / 10 + 30))
peak=$(status_of "$DAEMON" VmHWM)
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=
curl -sf "$CTL/truth" > "$OUT/truth.json"
curl -sf "$CTL/received" > "$OUT/received.json"
python3 bench/report.py score "$OUT/truth.json" "$OUT/received.json" soak --since-ms "$since_ms" \
  | tee "$OUT/score.json"
python3 - "$OUT" "$cold_s" "$cold_cpu" "$cold_peak" "$start" "$steady_end" "$steady_cpu" \
  "$peak" "$FEEDS" "$INTERVAL" "$SHARE" "$NEW_ITEMS" << 'PY' | tee "$OUT/summary.json"
import csv, json, sys
out, cold_s, cold_cpu, cold_peak, start, end, end_cpu, peak, feeds, interval, share, new_items = sys.argv[1:]
rows = list(csv.DictReader(open(f"{out}/samples.csv")))
seconds = int(end) - int(start)
cpu = float(end_cpu) - float(cold_cpu)
rss = [int(r["rss_kib"]) for r in rows]
load = [float(r["load1"]) for r in rows]
print(json.dumps({
    "feeds": int(feeds), "interval_s": int(interval), "share": float(share),
    "new_items": int(new_items),
    "floor": json.load(open(f"{out}/floor.json")),
    "cold": {"farm_answered_all_s": round(float(cold_s), 1), "cpu_s": float(cold_cpu),
             "peak_rss_kib": int(cold_peak)},
    "steady": {"minutes": round(seconds / 60, 1), "cpu_s": round(cpu, 2),
               "cpu_s_per_hour": round(cpu * 3600 / seconds, 1),
               "one_core_pct": round(cpu * 100 / seconds, 2),
               "rss_min_kib": min(rss), "rss_max_kib": max(rss),
               "load1_min": min(load), "load1_max": max(load)},
    "peak_rss_kib": int(peak),
    "score": json.load(open(f"{out}/score.json")),
}))
PY
echo "peak RSS ${peak} KiB; samples in $OUT/samples.csv"
