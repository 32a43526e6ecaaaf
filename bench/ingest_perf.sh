# bench/ingest_perf.sh - where the CPU of one ingest line goes, by role
# (sourced by bench/ingest.sh when BENCH_INGEST_PERF=1; diagnostics, it
# costs a few percent of the run). Issue 11 asks, where a goal is missed,
# for what dominates "with the profile that shows it".
#
#   perf_start TAG  perf record -a (every CPU, 499 Hz) and a sampler of
#                   pg_stat_activity (pid, backend type, application, query)
#                   once a second
#   perf_stop TAG   stops both, then prints the share of all samples of each
#                   role and the hottest symbols of the largest ones
#
# Roles: a PostgreSQL pid is named by what the sampler saw it run: an ingest
# backend (the collector's COPY / watermark / upsert statements), the
# leader's session (application tlswatch-evaluator: the rollup builders),
# the /metrics refresh (collector/metrics.c, "WITH s AS ..."), the bench's
# own psql, or its backend type
# (autovacuum worker, walwriter, checkpointer, ...). A pid the sampler never
# saw (an autovacuum worker that lived under a second) is "postgres,
# unnamed". Other processes by their command name; "swapper" is idle.
# Needs perf and permission to use it (root, or perf_event_paranoid <= 0).
# shellcheck shell=sh

perf_start() {
	_tag=$1
	PERF_DATA=$W/perf-$_tag.data PERF_ROLES=$W/perf-roles-$_tag.txt
	: >"$PERF_ROLES"
	perf record -a -F 499 -o "$PERF_DATA" -- sleep 86400 >/dev/null 2>"$W/logs/perf-$_tag.err" &
	PERF_PID=$!
	(
		while :; do
			PSQL -At -F '|' -c "SELECT pid, backend_type, coalesce(nullif(application_name, ''), '-'),
				left(regexp_replace(coalesce(query, ''), '\s+', ' ', 'g'), 60)
				FROM pg_stat_activity WHERE pid <> pg_backend_pid()" 2>/dev/null
			sleep 1
		done
	) >>"$PERF_ROLES" &
	PERF_SAMPLER=$!
	sleep 0.5  # perf is recording before the line starts
}

perf_stop() {
	kill "$PERF_SAMPLER" 2>/dev/null
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	wait "$PERF_SAMPLER" 2>/dev/null
	if [ ! -s "$PERF_DATA" ]; then
		say "   perf: no profile ($(head -c 200 "$W/logs/perf-$1.err" 2>/dev/null))"
		return 0
	fi
	# pid -> role, from the sampler's lines (the role seen most often wins)
	awk -F'|' '
		{
			r = $2
			if ($2 == "client backend") {
				if ($3 == "tlswatch-evaluator") r = "leader (rollup builders)"
				else if ($4 ~ /probe_spools|COPY results|certificates|INSERT INTO targets|^(BEGIN|COMMIT)/) r = "ingest backend"
				else if ($3 == "tlswatch-collector" && $4 ~ /^WITH s AS|rollup/) r = "/metrics refresh"
				else if ($3 == "psql") r = "bench psql"
				else r = "other client (" $3 ")"
			}
			n[$1 SUBSEP r]++
		}
		END {
			for (k in n) {
				split(k, a, SUBSEP)
				if (n[k] > best[a[1]]) { best[a[1]] = n[k]; role[a[1]] = a[2] }
			}
			for (p in role) print p "|" role[p]
		}' "$PERF_ROLES" >"$PERF_ROLES.map"
	perf report -i "$PERF_DATA" --sort pid --stdio 2>/dev/null | grep -v '^#' |
		awk -v map="$PERF_ROLES.map" '
		BEGIN { FS = "|"; while ((getline l < map) > 0) { split(l, a, "|"); role[a[1]] = a[2] } FS = " " }
		/%/ {
			pct = $1; sub(/%/, "", pct)
			split($2, pc, ":"); pid = pc[1]; comm = pc[2]
			r = comm
			if (comm == "postgres") r = (pid in role) ? "postgres: " role[pid] : "postgres, unnamed"
			share[r] += pct
		}
		END {
			for (r in share) if (share[r] >= 0.05) printf "%6.1f%%  %s\n", share[r], r
		}' | sort -rn >"$W/perf-$1.roles"
	say "   perf (all CPUs, 499 Hz; % of all samples, idle included):"
	sed 's/^/     /' "$W/perf-$1.roles"
	# the hottest symbols of the ingest backends and of the collector
	_ing=$(awk -F'|' '$2 == "ingest backend" { printf "%s%s", s, $1; s = "," }' "$PERF_ROLES.map")
	if [ -n "$_ing" ]; then
		say "   perf: PostgreSQL ingest backends, hottest symbols (% of their samples):"
		perf report -i "$PERF_DATA" --pid "$_ing" --sort dso,sym --percentage relative --stdio 2>/dev/null | grep -v '^#' |
			grep '%' | head -15 | sed 's/^/     /'
	fi
	_col=${CPID:-}  # the bench's collector (bench/ingest.sh)
	if [ -n "$_col" ]; then
		say "   perf: tlswatch-collector, hottest symbols (% of its samples):"
		perf report -i "$PERF_DATA" --pid "$_col" --sort dso,sym --percentage relative --stdio 2>/dev/null | grep -v '^#' |
			grep '%' | head -12 | sed 's/^/     /'
	fi
}
