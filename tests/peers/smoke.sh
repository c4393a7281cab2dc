#!/usr/bin/env bash
# Smoke test of the two test peers, with curl and the real ssh client; stops both whatever happens.
#   tests/peers/smoke.sh            (needs .venv with tests/peers/requirements.txt, curl, ssh, openssh-server)
# Prints one line per check and a closing "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d /tmp/peers-smoke.XXXXXX)"
PVE_PID=""
passed=0; failed=0

cleanup() {
  if [ -n "$PVE_PID" ] && kill -0 "$PVE_PID" 2>/dev/null; then kill -TERM "$PVE_PID"; wait "$PVE_PID" 2>/dev/null; fi
  "$HERE/sshd.sh" stop "$WORK/sshd" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

check() { # name, then a command that must succeed
  local name="$1"; shift
  if "$@" >"$WORK/check.out" 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/check.out" | head -20; fi
}

# ---------------------------------------------------------------- fakepve
TOKEN_ID='mcp@pve!smoke'; SECRET='0b6f6a3e-1111-4c2a-9d3e-5a1e2f3c4d5e'
"$PY" "$HERE/fakepve_launcher.py" --token-id "$TOKEN_ID" --token-secret "$SECRET" --cert-out "$WORK/pve.pem" \
  --seed --extra-token 'audit@pve!ro=rosecret:VM.Audit,Sys.Audit' >"$WORK/pve.out" 2>"$WORK/pve.err" &
PVE_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/pve.out" ] && break; kill -0 "$PVE_PID" 2>/dev/null || break; sleep 0.05; done
LINE="$(head -n1 "$WORK/pve.out")"
check "launcher first line format" \
  grep -Eq '^listening on https://127\.0\.0\.1:[0-9]+ sha256=([0-9A-F]{2}:){31}[0-9A-F]{2}$' "$WORK/pve.out"
PORT="$(sed -n 's#^listening on https://127\.0\.0\.1:\([0-9]*\) .*#\1#p' "$WORK/pve.out")"
FP="${LINE##*sha256=}"
B="https://127.0.0.1:${PORT:-0}/api2/json"
AUTH="Authorization: PVEAPIToken=$TOKEN_ID=$SECRET"
req() { curl -sS --max-time 10 --cacert "$WORK/pve.pem" "$@"; }
code() { curl -sS --max-time 10 --cacert "$WORK/pve.pem" -o /dev/null -w '%{http_code}' "$@"; }

fp_matches() { [ "$(openssl x509 -in "$WORK/pve.pem" -noout -fingerprint -sha256 | cut -d= -f2)" = "$FP" ]; }
nodes_ok() { req -H "$AUTH" "$B/nodes" | grep -q '"node": "pve1"'; }
resources_ok() { req -H "$AUTH" "$B/cluster/resources?type=vm" | grep -q '"id": "qemu/100"'; }
upid_ok() { [[ "$START_UPID" == UPID:pve1:*:qmstart:101:"$TOKEN_ID": ]]; }
task_ok() { req -H "$AUTH" "$B/nodes/pve1/tasks/$START_UPID/status" | grep -q '"exitstatus": "OK"'; }
wrong_401() { [ "$(code -H "Authorization: PVEAPIToken=$TOKEN_ID=wrong" "$B/nodes")" = 401 ]; }
ro_403() { [ "$(code -X POST -H 'Authorization: PVEAPIToken=audit@pve!ro=rosecret' \
                   "$B/nodes/pve1/qemu/100/status/stop")" = 403 ]; }

check "fingerprint matches --cert-out" fp_matches
check "GET /nodes with token (cert verified)" nodes_ok
check "GET /cluster/resources lists VMs" resources_ok
START_UPID="$(req -H "$AUTH" -X POST "$B/nodes/pve1/qemu/101/status/start" \
              | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["data"])')"
check "POST qemu/101/status/start returns a UPID" upid_ok
check "GET tasks/UPID/status reports it stopped/OK" task_ok
check "wrong token secret is 401" wrong_401
check "read-only token power action is 403" ro_403

# ---------------------------------------------------------------- sshd
if "$HERE/sshd.sh" start "$WORK/sshd" >"$WORK/sshd.out" 2>&1; then
  # shellcheck disable=SC1091
  . "$WORK/sshd/env"
  SSH=(ssh -i "$SSH_KEY" -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" -o StrictHostKeyChecking=yes -o BatchMode=yes
       -o IdentitiesOnly=yes -p "$SSH_PORT" "$SSH_USER@127.0.0.1")
  exit3() {
    "${SSH[@]}" 'echo out; echo err >&2; exit 3' >"$WORK/o" 2>"$WORK/e"
    local rc=$?
    [ "$rc" = 3 ] && [ "$(cat "$WORK/o")" = out ] && [ "$(cat "$WORK/e")" = err ]
  }
  qm_first() { [ "$("${SSH[@]}" 'command -v qm')" = "$SSH_BIN_DIR/qm" ]; }
  qm_status() { [ "$("${SSH[@]}" 'qm status 100')" = 'status: running' ]; }
  pveversion_ok() { "${SSH[@]}" pveversion | grep -q '^pve-manager/8.2.4/'; }
  qm_bogus() { "${SSH[@]}" 'qm bogus'; [ $? = 255 ]; }
  fp_env() { ssh-keygen -lf "$SSH_KNOWN_HOSTS" -E sha256 | grep -qF "$SSH_HOST_FINGERPRINT"; }
  check "ssh uname -a" "${SSH[@]}" uname -a
  check "second connection" "${SSH[@]}" true
  check "exit status 3, stdout and stderr apart" exit3
  check "fake qm first of the qm in PATH" qm_first
  check "qm status 100" qm_status
  check "pveversion" pveversion_ok
  check "unknown qm subcommand exits 255" qm_bogus
  check "host fingerprint in env matches known_hosts" fp_env
else
  failed=$((failed + 1)); echo "FAIL sshd.sh start"; cat "$WORK/sshd.out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
