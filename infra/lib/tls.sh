# shellcheck shell=bash
# The development certificate authority and the server certificate every local server
# presents (Kafka's SASL_SSL listener, Redis' tls-port, Cassandra's client encryption,
# the gateways and HAProxy in the replicated topology).
#
# Made once with openssl into $STATE_DIR/tls/ (or the directory given when this file is
# run as a command: `bash infra/lib/tls.sh DIR`, as the end-to-end tests do):
#   ca.crt      the dev CA, the one file clients are told to trust
#   ca.key      its key (0600), kept only to sign server.crt
#   server.crt  for localhost and 127.0.0.1, signed by the CA, valid 825 days
#   server.key  its key, PKCS#8 PEM (0600): the form rustls, Kafka, Redis, Cassandra
#               and HAProxy all read
#   server.pem  server.crt followed by server.key, for HAProxy and Kafka
# Nothing here is a secret worth protecting beyond the machine: it is a development CA.

TLS_DIR="${STATE_DIR:+$STATE_DIR/tls}"

# tls_secret NAME: a random development password, made once and kept in
# $TLS_DIR/NAME.secret (0600), printed without a newline.
tls_secret() {
  local f="$TLS_DIR/$1.secret"
  if [ ! -s "$f" ]; then
    mkdir -p "$TLS_DIR" && chmod 0700 "$TLS_DIR"
    (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
  fi
  cat "$f"
}

# tls_ensure DIR: create what is missing in DIR; never replaces existing files (servers
# and clients started earlier trust the CA already there).
tls_ensure() {
  local dir="$1"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if [ ! -s "$dir/ca.crt" ] || [ ! -s "$dir/ca.key" ]; then
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/ca.key" 2>/dev/null)
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
      -subj "/CN=chat dev CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.crt" 2>/dev/null
    rm -f "$dir/server.crt"
  fi
  if [ ! -s "$dir/server.crt" ] || [ ! -s "$dir/server.key" ]; then
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/server.key" 2>/dev/null)
    openssl req -new -key "$dir/server.key" -subj "/CN=localhost" -out "$dir/server.csr" 2>/dev/null
    # 825 days: the longest validity Apple's TLS clients accept.
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 825 -sha256 \
      -extfile <(printf '%s\n' \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth,clientAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1") \
      -out "$dir/server.crt" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/ca.srl"
    (umask 077 && cat "$dir/server.crt" "$dir/server.key" >"$dir/server.pem")
  fi
  chmod 0600 "$dir/ca.key" "$dir/server.key" "$dir/server.pem"
  chmod 0644 "$dir/ca.crt" "$dir/server.crt"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
  tls_ensure "$1"
fi
