#!/usr/bin/env bash
# A private OpenSSH server on 127.0.0.1 for the proxmox MCP server's SSH tests.
#
#   tests/peers/sshd.sh start DIR   # keys, config, sshd in the background; writes DIR/env
#   tests/peers/sshd.sh stop DIR    # stops the sshd started in DIR (by its pid)
#
# Installs nothing: /usr/sbin/sshd comes from Debian's openssh-server (apt-get install -y openssh-server).
# Key-only login as the current user; commands run normally (no ForceCommand), with DIR/bin (copies of
# tests/peers/bin: fake qm, pct, pvesh, pveversion, zpool) first in PATH through sshd_config's SetEnv.
# DIR/env, one KEY=VALUE a line, no quoting, no spaces in values (safe to `source` or to split at the first '='):
#   SSH_HOST=127.0.0.1  SSH_PORT=  SSH_USER=  SSH_KEY=DIR/client_ed25519  SSH_KNOWN_HOSTS=DIR/known_hosts
#   SSH_HOST_FINGERPRINT=SHA256:...  SSH_HOST_KEY=DIR/ssh_host_ed25519_key.pub  SSH_BIN_DIR=DIR/bin  SSHD_PID=
# Environment: SSHD (sshd binary, default /usr/sbin/sshd), SSHD_PORT (a fixed port instead of a free one),
# SSHD_START_TIMEOUT (seconds to wait for the port, default 10), SSHD_FIRST_PORT (the port of the first
# attempt only; tests use it to make that attempt collide).
# Ports: sshd cannot bind port 0 and report it, so a free port is picked (bind 0, close) and handed
# to sshd, and another process may take it in between. sshd is up only once it logs
# "Server listening on 127.0.0.1 port N" for that port (a listener on the port is not enough: it may
# be the other process); if it exits or does not, the start is retried on a fresh port (5 attempts).
# See tests/peers/SSHD.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SSHD_BIN="${SSHD:-/usr/sbin/sshd}"
HOST=127.0.0.1

die() { echo "sshd.sh: $*" >&2; exit 1; }

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }

free_port() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' \
        && return 0
    fi
  done
  # No python: a random high port that refuses connections.
  local port i
  for i in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Running and not a zombie (a dead sshd whose parent has not reaped it yet still answers kill -0).
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ "$state" != Z ]
}

write_config() { # $1 = config path, $2 = port, $3 = extra lines
  cat > "$1" <<EOF
# Written by tests/peers/sshd.sh: a throwaway sshd for tests, on loopback only.
Port $2
ListenAddress $HOST
AddressFamily inet
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
StrictModes no
AllowUsers $USER_NAME
PermitRootLogin prohibit-password
SetEnv PATH=$DIR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PermitUserEnvironment no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
LoginGraceTime 30
MaxStartups 64
MaxSessions 32
MaxAuthTries 6
LogLevel VERBOSE
Subsystem sftp internal-sftp
$3
EOF
}

start() {
  command -v "$SSHD_BIN" >/dev/null 2>&1 || [ -x "$SSHD_BIN" ] \
    || die "$SSHD_BIN not found: apt-get install -y openssh-server"
  command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen not found: apt-get install -y openssh-client"
  case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace (it goes unquoted into sshd_config): $DIR";; esac
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  if [ -f "$DIR/sshd.pid" ] && alive "$(cat "$DIR/sshd.pid")"; then
    die "an sshd is already running from $DIR (pid $(cat "$DIR/sshd.pid")); run: $0 stop $DIR"
  fi
  rm -f "$DIR/sshd.pid" "$DIR/env" "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub" \
        "$DIR/client_ed25519" "$DIR/client_ed25519.pub"
  USER_NAME="$(id -un)"

  ssh-keygen -q -t ed25519 -N '' -C "sshd.sh host key" -f "$DIR/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "sshd.sh client key" -f "$DIR/client_ed25519"
  chmod 600 "$DIR/ssh_host_ed25519_key" "$DIR/client_ed25519"
  cp "$DIR/client_ed25519.pub" "$DIR/authorized_keys"
  chmod 600 "$DIR/authorized_keys"

  : > "$DIR/sshd.log"
  rm -rf "$DIR/bin"
  mkdir -p "$DIR/bin"
  cp "$HERE"/bin/* "$DIR/bin/"
  chmod 755 "$DIR"/bin/*

  # sshd's privilege separation directory, which it needs when started as root.
  if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi

  local timeout="${SSHD_START_TIMEOUT:-10}" attempt port extra pid="" i up
  for attempt in 1 2 3 4 5; do
    if [ -n "${SSHD_PORT:-}" ]; then
      port="$SSHD_PORT"
    elif [ "$attempt" = 1 ] && [ -n "${SSHD_FIRST_PORT:-}" ]; then
      port="$SSHD_FIRST_PORT"
    else
      port="$(free_port)" || die "no free port found"
    fi
    # OpenSSH 9.8+ penalises sources that fail to authenticate, and tests fail logins on purpose.
    extra="PerSourcePenalties no"
    write_config "$DIR/sshd_config" "$port" "$extra"
    if ! "$SSHD_BIN" -t -f "$DIR/sshd_config" 2>/dev/null; then
      extra=""   # an older OpenSSH (9.2 here) has no PerSourcePenalties
      write_config "$DIR/sshd_config" "$port" "$extra"
      "$SSHD_BIN" -t -f "$DIR/sshd_config" || die "sshd -t rejected $DIR/sshd_config"
    fi
    # A new session, stdio detached: the caller's pipes close when this script exits.
    setsid "$SSHD_BIN" -D -e -f "$DIR/sshd_config" </dev/null >>"$DIR/sshd.log" 2>&1 &
    pid=$!
    up=""
    for i in $(seq 1 $(( timeout * 20 ))); do
      alive "$pid" || break
      # sshd's own word that it listens on this port (it logs the line after listen()).
      if grep -qF "Server listening on $HOST port $port." "$DIR/sshd.log" && port_open "$port"; then up=1; break; fi
      sleep 0.05
    done
    if [ -n "$up" ] && alive "$pid"; then break; fi
    alive "$pid" && kill "$pid" 2>/dev/null || true
    pid=""
    [ -n "${SSHD_PORT:-}" ] && break   # a fixed port: no point retrying
    echo "sshd.sh: sshd did not come up on port $port (attempt $attempt of 5), retrying on a fresh port" >&2
    grep -F "port $port" "$DIR/sshd.log" | tail -n 2 | sed 's/^/sshd.sh:   /' >&2 || true
  done
  if [ -z "$pid" ]; then
    tail -n 20 "$DIR/sshd.log" >&2 || true
    die "sshd did not start; see $DIR/sshd.log"
  fi
  # sshd writes PidFile once listening; keep ours if it has not (same process: -D does not fork).
  for i in $(seq 1 40); do [ -s "$DIR/sshd.pid" ] && break; sleep 0.05; done
  [ -s "$DIR/sshd.pid" ] || echo "$pid" > "$DIR/sshd.pid"

  echo "[$HOST]:$port $(cut -d' ' -f1,2 "$DIR/ssh_host_ed25519_key.pub")" > "$DIR/known_hosts"
  local fp
  fp="$(ssh-keygen -lf "$DIR/ssh_host_ed25519_key.pub" -E sha256 | awk '{print $2}')"
  cat > "$DIR/env.tmp" <<EOF
SSH_HOST=$HOST
SSH_PORT=$port
SSH_USER=$USER_NAME
SSH_KEY=$DIR/client_ed25519
SSH_KNOWN_HOSTS=$DIR/known_hosts
SSH_HOST_FINGERPRINT=$fp
SSH_HOST_KEY=$DIR/ssh_host_ed25519_key.pub
SSH_BIN_DIR=$DIR/bin
SSHD_PID=$(cat "$DIR/sshd.pid")
EOF
  mv "$DIR/env.tmp" "$DIR/env"
  echo "sshd listening on $HOST:$port (pid $(cat "$DIR/sshd.pid")); env in $DIR/env"
}

stop() {
  [ -d "$DIR" ] || die "no such directory: $DIR"
  local pid i
  if [ ! -s "$DIR/sshd.pid" ]; then echo "sshd.sh: no $DIR/sshd.pid, nothing to stop" >&2; return 0; fi
  pid="$(cat "$DIR/sshd.pid")"
  case "$pid" in ''|*[!0-9]*) die "bad pid in $DIR/sshd.pid: $pid";; esac
  if alive "$pid"; then
    # sshd was started with setsid, so it leads its own process group: end it and its session children.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$DIR/sshd.pid"
  echo "sshd stopped (pid $pid)"
}

[ $# -eq 2 ] || usage
DIR="$2"
case "$1" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
