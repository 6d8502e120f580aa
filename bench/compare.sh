#!/bin/sh
# compare.sh BEFORE AFTER [ROUNDS] [ACCOUNTS]: runs the rollout benchmark
# with two frameflow binaries alternately (one run each per round, the
# order swapped every round), each binary hosting its own simulator
# (`B bench --binary B`, so a cheaper simulator counts too), and prints
# the medians. A round starts once the machine has been at least 85% idle
# for 2 s (/proc/stat; at most 60 s of waiting), so that other work on a
# shared machine disturbs fewer runs. Judge changes by CPU seconds, which
# are far less noisy than wall time; note the load average printed.
#
#   go build -o /tmp/before . (on the old commit); go build -o /tmp/after .
#   bench/compare.sh /tmp/before /tmp/after 8
set -eu
before=$1 after=$2 rounds=${3:-5} accounts=${4:-2000}
out=$(mktemp -d /tmp/frameflow-compare-XXXXXX)
trap 'rm -rf "$out"' EXIT

idle_pct() { # percent idle over the next 2 s
	set -- $(head -1 /proc/stat); a_idle=$(($5 + $6)); a_all=0
	for v in "$@"; do case $v in cpu) ;; *) a_all=$((a_all + v)) ;; esac; done
	sleep 2
	set -- $(head -1 /proc/stat); b_idle=$(($5 + $6)); b_all=0
	for v in "$@"; do case $v in cpu) ;; *) b_all=$((b_all + v)) ;; esac; done
	echo $(((b_idle - a_idle) * 100 / (b_all - a_all + 1)))
}

wait_idle() {
	i=0
	while [ "$(idle_pct)" -lt 85 ] && [ $i -lt 30 ]; do i=$((i + 1)); done
}

run() { # run NAME BINARY: one run, its figures appended to $out/NAME
	line=$("$2" bench --accounts "$accounts" --runs 1 --binary "$2" 2>&1 | grep 'run 1/1:') || {
		echo "$1: the run failed" >&2
		return 1
	}
	echo "$1 $line"
	# wall, wall/limit, peak RSS, runner CPU, simulator CPU, floor, load
	echo "$line" | tr -d '(),×' | awk '
		function sec(d) { if (d ~ /ms$/) return d / 1000; if (d ~ /µs$/) return d / 1e6; sub(/s$/, "", d); return d + 0 }
		{ for (i = 1; i < NF; i++) {
			if ($i == "wall") w = sec($(i + 1))
			if ($i == "limit") ratio = $(i + 2)
			if ($i == "RSS") rss = $(i + 1)
			if ($i == "CPU") cpu = sec($(i + 1))
			if ($i == "simulator") sim = sec($(i + 1))
			if ($i == "floor") fl = sec($(i + 1))
			if ($i == "load") load = $(i + 1)
		} }
		END { print w, ratio, rss, cpu, sim, fl, load }' >>"$out/$1"
}

r=1
while [ $r -le "$rounds" ]; do
	wait_idle
	if [ $((r % 2)) -eq 1 ]; then
		run before "$before"; run after "$after"
	else
		run after "$after"; run before "$before"
	fi
	r=$((r + 1))
done

median() { # median COLUMN FILE
	cut -d' ' -f"$1" "$2" | sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'
}
best() { cut -d' ' -f"$1" "$2" | sort -n | head -1; }

echo
echo "medians of $rounds rounds, $accounts accounts ($(nproc) cores):"
printf '%-8s %8s %11s %8s %11s %9s %10s %9s %6s\n' "" wall wall/limit best runner-CPU sim-CPU CPU-floor "RSS MiB" load
for name in before after; do
	printf '%-8s %7ss %10s× %7s× %10ss %8ss %9ss %9s %6s\n' "$name" \
		"$(median 1 "$out/$name")" "$(median 2 "$out/$name")" "$(best 2 "$out/$name")" "$(median 4 "$out/$name")" \
		"$(median 5 "$out/$name")" "$(median 6 "$out/$name")" "$(median 3 "$out/$name")" "$(median 7 "$out/$name")"
done
