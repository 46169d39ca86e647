#!/usr/bin/env bash
# The load benchmark: parleyd and the peers a user would otherwise pick, on the same feed
# farm, in one run on one machine. See BENCHMARKS.md for what it measures and the figures.
#
#   bench/run.sh [FEEDS [ITEMS]]          # default 1000 feeds x 50 items
#
# Needs /usr/bin/time, newsboat and curl (Debian: apt-get install time newsboat curl) and
# python3 with feedparser and scikit-learn (pip install feedparser scikit-learn).
# SKIP_PEERS=1 measures parleyd only. STORY_WINDOW sets parleyd's [classifier]
# story_window (its default when unset). INTERVAL (seconds, default 10) is the feed interval
# of the latency run; ROUNDS (default 5) how many times feeds gain new stories in it.
# Everything goes to target/bench/FEEDSxITEMS/; results.jsonl holds one line per row.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${1:-1000}
ITEMS=${2:-50}
PORT=${PORT:-18080}
INTERVAL=${INTERVAL:-10}
ROUNDS=${ROUNDS:-5}
OUT=$PWD/target/bench/${FEEDS}x${ITEMS}
CTL=http://127.0.0.1:$PORT/control
rm -rf "$OUT"
mkdir -p "$OUT"
cargo build --release --locked -p parleyd -p parleyd-bench --bin parleyd --bin farm
PARLEYD=$PWD/target/release/parleyd
FARM=$PWD/target/release/farm
RESULTS=$OUT/results.jsonl
FARM_PID=
trap '[ -n "$FARM_PID" ] && kill $FARM_PID 2>/dev/null; true' EXIT

farm_start() {
  "$FARM" serve --feeds "$FEEDS" --items "$ITEMS" --port "$PORT" --dir "$OUT" "$@" \
    > "$OUT/farm.log" 2>&1 &
  FARM_PID=$!
  until curl -sf "$CTL/stats" > /dev/null; do sleep 0.2; done
}

farm_stop() {
  kill "$FARM_PID" && wait "$FARM_PID" 2> /dev/null || true
  FARM_PID=
}

stat_of() {
  curl -sf "$CTL/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# measure TOOL SCENARIO COMMAND...: times the command, appends one row to results.jsonl.
measure() {
  local tool=$1 scenario=$2
  shift 2
  curl -sf -XPOST "$CTL/reset"
  local alerts_before
  alerts_before=$(stat_of alerts_received)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" "$@" > "$OUT/$tool-$scenario.log" 2>&1; then
    echo "  ($tool $scenario exited non-zero; see $OUT/$tool-$scenario.log)"
  fi
  curl -sf "$CTL/stats" | python3 -c "
import json, sys
stats = json.load(sys.stdin)
wall, user, system, rss = open('$OUT/time.txt').read().split()[-4:]
row = {'tool': '$tool', 'scenario': '$scenario', 'wall_s': float(wall),
       'cpu_s': round(float(user) + float(system), 2), 'rss_mb': round(int(rss) / 1024, 1),
       'requests': stats['requests'], 'not_modified': stats['not_modified'],
       'items_served': stats['items_served'], 'bytes_sent': stats['bytes_sent'],
       'alerts': stats['alerts_received'] - $alerts_before}
print(json.dumps(row))" | tee -a "$RESULTS"
}

advance() {
  curl -sf -XPOST "$CTL/advance?share=$1&items=$2" > "$OUT/advance.json"
}

# score TOOL [--since-ms MS]: keeps the farm's truth and received alerts as TOOL-truth.json
# and TOOL-received.json (for looking into misses later), appends the score.
score() {
  curl -sf "$CTL/truth" > "$OUT/$1-truth.json"
  curl -sf "$CTL/received" > "$OUT/$1-received.json"
  python3 bench/report.py score "$OUT/$1-truth.json" "$OUT/$1-received.json" "$@" \
    | tee -a "$OUT/scores.jsonl"
}

parleyd_config() {
  local dir=$OUT/parleyd-$1
  mkdir -p "$dir"
  cat > "$dir/parleyd.toml" << TOML
[storage]
path = "store"

[poll]
alert_on_first_poll = $2
interval = "${INTERVAL}s"

[log]
level = "warn"

[server]
listen = "off"
${STORY_WINDOW:+
[classifier]
story_window = \"$STORY_WINDOW\"
}
[[sinks]]
kind = "webhook"
name = "farm"
url = "http://127.0.0.1:$PORT/hook/$1"

TOML
  cat "$OUT/feeds.toml" >> "$dir/parleyd.toml"
  echo "$dir/parleyd.toml"
}

# The three scenarios on a fresh farm: cold (first poll, empty state), warm (the same
# poll again: every feed answers 304), incremental (a quarter of the feeds gain 5 items).
scenarios() {
  local tool=$1
  shift
  measure "$tool" cold "$@"
  measure "$tool" warm "$@"
  advance 0.25 5
  measure "$tool" incremental "$@"
}

echo "== floor and parleyd (${FEEDS} feeds x ${ITEMS} items)"
farm_start
measure floor cold "$FARM" floor --urls "$OUT/urls.txt"
config=$(parleyd_config parleyd true)
scenarios parleyd "$PARLEYD" --config "$config" once
score parleyd
farm_stop

if [ -z "${SKIP_PEERS:-}" ]; then
  echo "== feedparser + scikit-learn cron script, one process"
  farm_start
  scenarios python "python3" bench/peers/feedparser_cron.py --urls "$OUT/urls.txt" \
    --state "$OUT/python-state.json" --hook "http://127.0.0.1:$PORT/hook/python"
  score python
  farm_stop

  echo "== feedparser + scikit-learn cron script, two processes"
  farm_start
  scenarios python-2proc "python3" bench/peers/feedparser_cron.py --urls "$OUT/urls.txt" \
    --state "$OUT/python2-state.json" --procs 2 --hook "http://127.0.0.1:$PORT/hook/python-2proc"
  score python-2proc
  farm_stop

  echo "== newsboat -x reload (no classifier: fetch and store only)"
  farm_start
  mkdir -p "$OUT/newsboat"
  : > "$OUT/newsboat/config"
  scenarios newsboat env HOME="$OUT/newsboat" newsboat -x reload -u "$OUT/urls.txt" \
    -c "$OUT/newsboat/cache.db" -C "$OUT/newsboat/config"
  farm_stop
fi

echo "== parleyd run: latency from a new item to its alert (interval ${INTERVAL}s)"
farm_start
config=$(parleyd_config parleyd-run false)
"$PARLEYD" --config "$config" run > "$OUT/parleyd-run.log" 2>&1 &
DAEMON=$!
until [ "$(stat_of requests)" -ge "$FEEDS" ]; do sleep 0.5; done
sleep $((INTERVAL + 2))
since_ms=$(($(date +%s%N) / 1000000))
for _ in $(seq "$ROUNDS"); do
  advance 0.1 3
  sleep $((INTERVAL + 3))
done
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$DAEMON/status")
kill -TERM "$DAEMON"
wait "$DAEMON" || true
echo "{\"tool\": \"parleyd run\", \"scenario\": \"daemon peak\", \"rss_mb\": $((rss_kb / 1024))}" | tee -a "$RESULTS"
score parleyd-run --since-ms "$since_ms"
farm_stop

echo
python3 bench/report.py table "$RESULTS"
echo
cat "$OUT/scores.jsonl"
