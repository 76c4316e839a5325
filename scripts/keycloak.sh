#!/usr/bin/env bash
# Keycloak for the tests (and for trying the examples/keycloak realm by hand), idempotent:
#
#   scripts/keycloak.sh java      prints JAVA_HOME of a JDK >= 21, or exits 3 saying why there is none
#   scripts/keycloak.sh install   downloads org.keycloak:keycloak-quarkus-dist from Maven Central once
#                                 (newest pinned version first, then the fallback), unpacks it under
#                                 .tools/keycloak/, prints its home folder
#   scripts/keycloak.sh run PORT  runs Keycloak in the foreground: dev mode (start-dev), in-memory H2,
#                                 HTTP on 127.0.0.1:PORT only, the realms of examples/keycloak/*.realm.json
#                                 imported, heap capped (KEYCLOAK_HEAP, default 640m). The admin user
#                                 comes from KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD.
#                                 Stop it with SIGTERM to its process group.
#   scripts/keycloak.sh start PORT   `run` in the background; waits (bounded: KEYCLOAK_START_TIMEOUT
#                                 seconds, default 420) until the imported realm answers, prints the PID.
#
# Environment: KEYCLOAK_VERSIONS (space-separated, tried in order; default "26.7.3 26.5.6").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools/keycloak"
VERSIONS=${KEYCLOAK_VERSIONS:-"26.7.3 26.5.6"}
log() { printf '[keycloak] %s\n' "$*" >&2; }

# A JDK >= 21: JAVA_HOME, then `java` on PATH, then every JDK under the usual folders. Keycloak 26
# refuses older ones (the system default is often 17).
java_major() { # $1 java binary → major version, or 0
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -1 | grep . || echo 0
}
find_java() {
  local candidates=() c
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null; then candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"); fi
  for c in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /usr/local/java/* "$HOME"/.sdkman/candidates/java/*; do
    [ -d "$c" ] && candidates+=("$c")
  done
  local best='' best_major=0 major
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] || continue
    major=$(java_major "$c/bin/java")
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best=$c; best_major=$major; fi
  done
  if [ -z "$best" ]; then
    log "no JDK >= 21 found (looked at JAVA_HOME, java on PATH, /usr/lib/jvm, /usr/java, /opt/java, /opt/jdk*); Keycloak 26 needs one"
    exit 3
  fi
  readlink -f "$best"
}

install_keycloak() {
  mkdir -p "$TOOLS"
  local v home archive url
  for v in $VERSIONS; do
    home="$TOOLS/keycloak-$v"
    if [ -x "$home/bin/kc.sh" ] && [ -f "$home/.complete" ]; then echo "$home"; return 0; fi
  done
  for v in $VERSIONS; do
    home="$TOOLS/keycloak-$v"
    archive="$TOOLS/keycloak-quarkus-dist-$v.tar.gz"
    url="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$v/keycloak-quarkus-dist-$v.tar.gz"
    if [ ! -s "$archive" ]; then
      log "downloading Keycloak $v from Maven Central (~170 MB, once)"
      if ! curl -fsSL --retry 2 --connect-timeout 20 --max-time 900 -o "$archive.part" "$url"; then
        log "Keycloak $v could not be downloaded; trying the next version"
        rm -f "$archive.part"
        continue
      fi
      # Maven Central publishes a SHA-1 beside every artifact: refuse a truncated or altered download.
      local want got
      want=$(curl -fsSL --max-time 60 "$url.sha1" | cut -c1-40 || true)
      got=$(sha1sum "$archive.part" | cut -d' ' -f1)
      if [ -z "$want" ] || [ "$want" != "$got" ]; then
        log "Keycloak $v: checksum mismatch (want '$want', got '$got'); trying the next version"
        rm -f "$archive.part"
        continue
      fi
      mv "$archive.part" "$archive"
    fi
    rm -rf "$home" "$home.tmp" && mkdir -p "$home.tmp"
    tar -xzf "$archive" -C "$home.tmp" --strip-components=1
    touch "$home.tmp/.complete"
    mv "$home.tmp" "$home"
    echo "$home"
    return 0
  done
  log "no Keycloak version of '$VERSIONS' could be installed"
  exit 4
}

run_keycloak() { # $1 port
  local port=$1 java home
  java=$(find_java)
  home=$(install_keycloak)
  mkdir -p "$home/data/import"
  rm -f "$home"/data/import/*.json
  cp examples/keycloak/*.realm.json "$home/data/import/"
  export JAVA_HOME="$java" PATH="$java/bin:$PATH"
  export JAVA_OPTS_KC_HEAP="-Xms64m -Xmx${KEYCLOAK_HEAP:-640m}"
  # Quiet, loopback only, nothing persisted (dev-mem): each run starts from the realm files.
  exec "$home/bin/kc.sh" start-dev \
    --import-realm \
    --db=dev-mem \
    --http-host=127.0.0.1 \
    --http-port="$port" \
    --hostname-strict=false \
    --log-level=warn \
    --cache=local
}

case "${1:-}" in
  java) find_java ;;
  install) install_keycloak ;;
  run)
    [ -n "${2:-}" ] || { log "usage: $0 run PORT"; exit 2; }
    run_keycloak "$2"
    ;;
  start)
    [ -n "${2:-}" ] || { log "usage: $0 start PORT"; exit 2; }
    port=$2
    find_java >/dev/null
    install_keycloak >/dev/null
    setsid bash "$0" run "$port" >"${KEYCLOAK_LOG:-/dev/null}" 2>&1 &
    pid=$!
    deadline=$((SECONDS + ${KEYCLOAK_START_TIMEOUT:-420}))
    until curl -fs -o /dev/null --max-time 5 "http://127.0.0.1:$port/realms/mcp/.well-known/openid-configuration"; do
      if ! kill -0 "$pid" 2>/dev/null; then log "Keycloak exited during start-up"; exit 5; fi
      if [ "$SECONDS" -ge "$deadline" ]; then log "Keycloak not ready after ${KEYCLOAK_START_TIMEOUT:-420}s"; kill -TERM -- "-$pid" 2>/dev/null || true; exit 6; fi
      sleep 1
    done
    echo "$pid"
    ;;
  *)
    log "usage: $0 java | install | run PORT | start PORT"
    exit 2
    ;;
esac
