#!/bin/sh
# screenshot.sh [OUT.png [STATE.env]] - the dashboard of a running demo, as
# headless Chromium draws it (for the README: docs/img/dashboard.png).
# STATE.env is what demo.sh wrote (default var/demo/state.env); the page is
# given a few seconds of virtual time to fetch and draw its data.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/docs/img/dashboard.png}
state=${2:-$here/var/demo/state.env}
[ -r "$state" ] || { echo "screenshot: no $state (is the demo running?)" >&2; exit 1; }
DEMO_HTTP=$(sed -n 's/^DEMO_HTTP=//p' "$state")
[ -n "$DEMO_HTTP" ] || { echo "screenshot: $state has no DEMO_HTTP" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "screenshot: no chromium found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: Chromium refuses to run as root with its sandbox
timeout 90 "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
	--user-data-dir="$profile" --window-size="${SHOT_SIZE:-1280,900}" \
	--virtual-time-budget="${SHOT_WAIT_MS:-8000}" --screenshot="$out" \
	"$DEMO_HTTP/${SHOT_PATH:-}" >/dev/null 2>&1
[ -s "$out" ] || { echo "screenshot: chromium wrote nothing" >&2; exit 1; }
echo "screenshot: $out"
