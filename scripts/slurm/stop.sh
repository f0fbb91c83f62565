#!/usr/bin/env bash
# stop.sh -- stop the daemons scripts/slurm/start.sh started, by the PIDs it saved
# in $PAX_SLURM_STATE/pids (never by process name). A PID is signalled only if
# /proc/PID/comm still names the expected daemon; daemons start.sh found already
# running (no saved pid) are left alone.
#   PAX_SLURM_CANCEL_JOBS=0  leave jobs alone (default 1: scancel the jobs whose
#                            name starts with 'parsl.' first, so no job lingers)
set -uo pipefail
STATE=${PAX_SLURM_STATE:-/var/spool/pax-slurm}
PIDS=$STATE/pids

if [ "${PAX_SLURM_CANCEL_JOBS:-1}" = 1 ] && [ -f "$PIDS/slurmctld.pid" ] \
        && scontrol ping 2>/dev/null | grep -q 'is UP'; then
    jobs=$(squeue -h -o '%i %j' 2>/dev/null | awk '$2 ~ /^parsl\./ {print $1}' | tr '\n' ' ')
    if [ -n "${jobs// }" ]; then
        echo "cancelling parsl jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs
        for _ in $(seq 50); do
            [ -z "$(squeue -h -o '%j' | grep '^parsl\.')" ] && break; sleep 0.2
        done
    fi
fi

for name in slurmd slurmctld munged; do          # reverse start order
    f=$PIDS/$name.pid
    [ -f "$f" ] || { echo "$name: no saved pid, not started by start.sh"; continue; }
    pid=$(cat "$f")
    if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != "$name" ]; then
        echo "$name: pid $pid not running (stale pid file)"; rm -f "$f"; continue
    fi
    kill -TERM "$pid"
    for _ in $(seq 100); do [ -d /proc/"$pid" ] || break; sleep 0.1; done
    if [ -d /proc/"$pid" ]; then echo "$name: pid $pid ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid"; fi
    rm -f "$f"; echo "$name: stopped pid $pid"
done
