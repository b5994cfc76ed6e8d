# shellcheck shell=bash
# HAProxy (Debian's package) in front of the gateways and the Redis primary: the
# replicated topology's load balancer (infra/lib/topology.sh), standing in for the
# cloud's Network Load Balancer and the managed Redis primary endpoint.
# Sourced after common.sh, redis.sh and services.sh; follows the component contract.
#
#   LB_PORT      where browsers and clients connect (default 8080): HTTP and WebSocket
#                upgrades, spread over the gateways (least connections), each checked
#                with GET /healthz every second
#   REDIS_PORT   where services reach Redis: forwarded to the node answering
#                `role:master`; connections to a node that stops being the primary are
#                cut, so clients reconnect to the new one
#   LB_STATS_PORT  HAProxy's own stats page, also its health check (default 8404)
#
# With CHAT_GATEWAY_TLS (the replicated topology), LB_PORT serves HTTPS/WSS with the
# dev certificate (lib/tls.sh) and HAProxy re-encrypts to the gateways, which serve TLS
# themselves: each gateway's certificate must chain to the dev CA and name localhost
# (`verify required`), health checks included. HTTP mode throughout, so
# `option forwardfor` still tells the gateways who the client is.

LB_PORT="${LB_PORT:-8080}"
LB_STATS_PORT="${LB_STATS_PORT:-8404}"
HAPROXY_DIR="$STATE_DIR/haproxy"

haproxy_external() { return 1; }

# lb_scheme -> https when the load balancer serves TLS, http otherwise.
lb_scheme() { if [ -n "${CHAT_GATEWAY_TLS:-}" ]; then echo https; else echo http; fi; }

haproxy_install() {
  command -v haproxy >/dev/null && return 0
  local sudo="" rc=0 own_policy=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # As for redis-server: keep Debian's postinst from starting a system-wide haproxy.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null &&
      $sudo chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  (apt_ensure haproxy) || rc=$?
  [ -n "$own_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || die "could not install haproxy"
  $sudo service haproxy stop >/dev/null 2>&1 || true
}

haproxy_healthy() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$LB_STATS_PORT/stats"; }

_haproxy_render_config() {
  mkdir -p "$HAPROXY_DIR"
  local tls_from_clients="" tls_to_gateways=""
  if [ -n "${CHAT_GATEWAY_TLS:-}" ]; then
    tls_ensure "$TLS_DIR"
    tls_from_clients=" ssl crt $TLS_DIR/server.pem alpn http/1.1"
    tls_to_gateways=" ssl verify required ca-file $TLS_DIR/ca.crt verifyhost localhost sni str(localhost)"
  fi
  local gateways="" name port _
  while read -r name port _; do
    [[ "$name" == gateway-* ]] && gateways+="  server $name 127.0.0.1:$port check${tls_to_gateways}"$'\n'
  done < <(services_spec)
  local redis_nodes="" n
  for n in redis-1 redis-2; do redis_nodes+="  server $n 127.0.0.1:$(_redis_port_of "$n") check"$'\n'; done
  # Each proxied connection holds two descriptors (client and server side).
  local maxconn
  maxconn=$(( ($(raise_nofile; ulimit -n) - 100) / 2 ))
  cat >"$HAPROXY_DIR/haproxy.cfg.new" <<CFG
# Written by infra/lib/haproxy.sh on every start; edit that file, not this one.
global
  maxconn $maxconn
  log stdout format raw local0 notice

defaults
  log global
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # An upgraded WebSocket is a tunnel: clients ping every 25 s, so an hour of silence
  # means a dead peer.
  timeout tunnel 1h
  timeout client-fin 5s
  # A connection refused by a gateway that just died is retried on another one.
  retries 3
  option redispatch

frontend stats
  mode http
  bind 127.0.0.1:$LB_STATS_PORT
  stats enable
  stats uri /stats

frontend gateways
  mode http
  bind 127.0.0.1:$LB_PORT$tls_from_clients
  option forwardfor
  default_backend gateways

backend gateways
  mode http
  balance leastconn
  # Liveness, not readiness: /readyz fails on every gateway at once while a dependency
  # is away, and taking them all out would refuse even the requests that could be served.
  # /healthz is checked on the public port (not the gateway's ops port): it is the
  # listener clients reach that has to answer.
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 1s fall 2 rise 2
$gateways
frontend redis
  mode tcp
  bind 127.0.0.1:$REDIS_PORT
  timeout client 1h
  default_backend redis_primary

backend redis_primary
  mode tcp
  timeout server 1h
  option tcp-check
  tcp-check connect
  tcp-check send PING\r\n
  tcp-check expect string +PONG
  tcp-check send info\ replication\r\n
  tcp-check expect string role:master
  tcp-check send QUIT\r\n
  tcp-check expect string +OK
  # A node that stops being the primary (or stops answering) loses its connections, so
  # no client keeps writing to a replica-to-be.
  default-server inter 1s fall 1 rise 2 on-marked-down shutdown-sessions
$redis_nodes
CFG
  haproxy -c -q -f "$HAPROXY_DIR/haproxy.cfg.new" || die "haproxy refused $HAPROXY_DIR/haproxy.cfg.new"
  mv "$HAPROXY_DIR/haproxy.cfg.new" "$HAPROXY_DIR/haproxy.cfg"
}

haproxy_start() {
  haproxy_healthy && return 0
  pid_of haproxy >/dev/null && return 0
  port_open 127.0.0.1 "$LB_PORT" && die "port $LB_PORT is taken by something that is not our HAProxy"
  haproxy_install
  _haproxy_render_config
  log "starting haproxy on 127.0.0.1:$LB_PORT (gateways) and 127.0.0.1:$REDIS_PORT (Redis primary)"
  # -db: stay in the foreground (start_bg keeps the pid), logs on stdout.
  (raise_nofile && start_bg haproxy haproxy -db -f "$HAPROXY_DIR/haproxy.cfg")
}

haproxy_wait() { wait_until haproxy 30 haproxy_healthy; }

haproxy_stop() { stop_pid haproxy 10; }

haproxy_describe() {
  echo "haproxy    $(lb_scheme)://127.0.0.1:$LB_PORT -> gateways, 127.0.0.1:$REDIS_PORT -> Redis primary (stats http://127.0.0.1:$LB_STATS_PORT/stats)"
}
