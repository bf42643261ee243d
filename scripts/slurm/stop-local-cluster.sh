#!/usr/bin/env bash
# Stop the localhost SLURM cluster started by start-local-cluster.sh.
#
# Cancels all jobs, waits briefly for them to end, then stops slurmd,
# slurmctld and munged through their PID files under
#   MLPSWEEP_SLURM_DIR (default /tmp/mlpsweep-slurm)
# never by process name. Idempotent: exits 0 when nothing runs.
#   --purge   also delete MLPSWEEP_SLURM_DIR afterwards (only if it was
#             created by start-local-cluster.sh)
set -euo pipefail

DIR=${MLPSWEEP_SLURM_DIR:-/tmp/mlpsweep-slurm}
[[ $DIR == /* ]] || DIR="$PWD/$DIR"
DIR=${DIR%/}
PURGE=0
for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=1 ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
    esac
done

log() { printf '[stop-local-cluster] %s\n' "$*" >&2; }

CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

# pid_of FILE COMM: print the PID from FILE if it runs and its /proc comm is COMM
pid_of() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
    echo "$pid"
}

# stop_daemon NAME PIDFILE: SIGTERM, wait up to 15 s, then SIGKILL
stop_daemon() {
    local name=$1 pidfile=$2 pid i
    if ! pid=$(pid_of "$pidfile" "$name"); then
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$pidfile"
}

active_jobs() { squeue -h -t PD,R,S,CG,CF,RQ,RS,SO,ST -o %A 2>/dev/null || true; }

if [[ -f $CONF ]] && command -v scontrol >/dev/null &&
    pid_of "$DIR/run/slurmctld.pid" slurmctld >/dev/null &&
    scontrol ping 2>/dev/null | grep -q 'is UP'; then
    mapfile -t jobs < <(active_jobs)
    if ((${#jobs[@]} > 0)); then
        log "cancelling ${#jobs[@]} job(s): ${jobs[*]}"
        scancel "${jobs[@]}" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ -z $(active_jobs) ]] && break
            sleep 0.2
        done
        left=$(active_jobs | tr '\n' ' ')
        [[ -z $left ]] || log "WARNING: jobs still not finished after 20 s: $left"
    fi
fi

stop_daemon slurmd "$DIR/run/slurmd.pid"
stop_daemon slurmctld "$DIR/run/slurmctld.pid"
stop_daemon munged "$DIR/munge/munged.pid"

if ((PURGE)) && [[ -d $DIR ]]; then
    if [[ -f $DIR/.mlpsweep-slurm ]]; then
        rm -rf -- "$DIR"
        log "removed $DIR"
    else
        log "not removing $DIR: no .mlpsweep-slurm marker"
    fi
fi
log "stopped"
exit 0
