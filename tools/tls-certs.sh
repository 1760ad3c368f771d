# shellcheck shell=bash
# tools/tls-certs.sh - a test CA and server certificates made by openssl at
# run time, for the DNS-over-TLS tests (tests/integration/lib.sh) and
# tools/bench. Sourced, not run. Everything goes to $TLS_DIR (default
# $TMP/tls, the integration tests' folder), made by openssl with a config of
# its own: the machine's openssl.cnf and trust store are not read.
# Errors go to the caller's fail() when it has one (lib.sh's), else to
# stderr, and end the script.

tls_fail() {
	if declare -F fail >/dev/null; then
		fail "$@"
	fi
	echo "tls-certs: $*" >&2
	exit 1
}

# tls_ca_make: a test CA, EC P-256, valid from now for 2 days, in $TLS_DIR.
# Sets TLS_CA (its certificate: the CA file a client is given) and
# TLS_CA_KEY. tls_cert_make calls it when no CA is made yet; called again,
# it makes a new CA, and certificates made after that chain to it only.
tls_ca_make() {
	TLS_DIR=${TLS_DIR:-$TMP/tls}
	mkdir -p "$TLS_DIR"
	cat >"$TLS_DIR/ca.cnf" <<-'EOF'
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = stubd test CA
		[ca_ext]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		[ca]
		default_ca = test_ca
		[test_ca]
		database = index.txt
		new_certs_dir = .
		serial = serial
		default_md = sha256
		policy = any
		unique_subject = no
		[any]
		commonName = supplied
	EOF
	: >"$TLS_DIR/index.txt"
	echo 01 >"$TLS_DIR/serial"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-config "$TLS_DIR/ca.cnf" -extensions ca_ext -days 2 \
		-keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" >>"$TLS_DIR/openssl.out" 2>&1 ||
		tls_fail "openssl could not make the test CA: $(tail -n 5 "$TLS_DIR/openssl.out")"
	TLS_CA=$TLS_DIR/ca.pem
	TLS_CA_KEY=$TLS_DIR/ca.key
}

# tls_cert_make [--expired | --self-signed] NAME [IP...]: a server key and
# certificate for NAME, signed by the test CA (made first if there is
# none), EC P-256, valid from now for 2 days, with subjectAltName DNS:NAME
# and IP:IP for each IP (CN is NAME too). An empty NAME gives a
# certificate with IP entries only. Sets TLS_CERT and TLS_KEY (PEM files
# in $TLS_DIR, named after NAME and the variant, so variants for one name
# live side by side).
#   --expired      signed by the CA but valid only from 2020-01-01 to
#                  2020-01-03: every client must refuse it
#   --self-signed  signed by its own key, not the CA: fails the chain check
# A certificate for a name other than the one the client asks for is just
# tls_cert_make OTHER.NAME.
tls_cert_make() {
	local variant=""
	case ${1:-} in --expired | --self-signed) variant=${1#--} && shift ;; esac
	[ $# -ge 1 ] || tls_fail "tls_cert_make: no NAME"
	local name=$1
	shift
	[ -n "$name" ] || [ $# -ge 1 ] || tls_fail "tls_cert_make: neither NAME nor IP"
	[ -n "${TLS_CA:-}" ] || tls_ca_make
	local base=${name:-ip-$1} san="" ip
	base=$TLS_DIR/${base//[^A-Za-z0-9.-]/_}${variant:+-$variant}
	[ -n "$name" ] && san="DNS:$name"
	for ip in "$@"; do
		san+="${san:+, }IP:$ip"
	done
	# One file holds the request's subject and the certificate's
	# extensions: req reads [req], x509, ca and req -x509 read [leaf].
	cat >"$base.cnf" <<-EOF
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = ${name:-$1}
		[leaf]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature
		extendedKeyUsage = serverAuth
		subjectAltName = $san
		subjectKeyIdentifier = hash
	EOF
	[ "$variant" = self-signed ] || echo "authorityKeyIdentifier = keyid" >>"$base.cnf"
	{
		case $variant in
		self-signed)
			openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-config "$base.cnf" -extensions leaf -days 2 -keyout "$base.key" -out "$base.pem"
			;;
		*)
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-config "$base.cnf" -keyout "$base.key" -out "$base.csr" || return 1
			if [ "$variant" = expired ]; then
				# x509 -req can only start a certificate now (OpenSSL
				# 3.0 has no -not_before): "ca" sets both dates.
				(cd "$TLS_DIR" && openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key \
					-startdate 20200101000000Z -enddate 20200103000000Z \
					-extfile "$base.cnf" -extensions leaf -in "$base.csr" -out "$base.pem")
			else
				openssl x509 -req -in "$base.csr" -CA "$TLS_CA" -CAkey "$TLS_CA_KEY" \
					-set_serial "0x$(openssl rand -hex 8)" -days 2 \
					-extfile "$base.cnf" -extensions leaf -out "$base.pem"
			fi
			;;
		esac
	} >>"$TLS_DIR/openssl.out" 2>&1 ||
		tls_fail "openssl could not make the ${variant:+$variant }certificate for '${name:-$*}': $(tail -n 5 "$TLS_DIR/openssl.out")"
	# shellcheck disable=SC2034 # for the caller
	TLS_CERT=$base.pem TLS_KEY=$base.key
}
