# Shared shell helpers for test/run, test/demo and test/t/*.sh. Source it, don't run it:
#   . "$(dirname "$0")/lib.sh"
# Everything targets Debian bookworm's PostgreSQL 15. Throwaway clusters run as the `postgres`
# user when we are root (initdb and postgres refuse root), in a temp dir that also holds the
# unix socket, on a free port on 127.0.0.1.

PRISM_ROOT=${PRISM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
export PRISM_ROOT PG_MAJOR PG_BIN PG_CONFIG

# Debian packages the build, the tests and the demo need. nodejs/npm are added only when no
# node is on PATH, so an existing (e.g. newer) node is left alone.
PRISM_APT_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libpq-dev libhnswlib-dev
	g++ make cmake googletest libgtest-dev libbenchmark-dev"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) for: $*"
	fi
}

# Run a command as the cluster owner: `postgres` when we are root, else ourselves.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Install the missing Debian packages (apt-get update first). When every package is already
# installed nothing is fetched, so a re-run works offline.
install_packages() {
	local pkgs="$PRISM_APT_PACKAGES" missing="" p
	command -v node >/dev/null || pkgs="$pkgs nodejs"
	command -v npm >/dev/null || pkgs="$pkgs npm"
	for p in $pkgs; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "Debian packages: all present"
		return 0
	fi
	log "installing Debian packages:$missing"
	local main_was_up=no
	pg_main_online && main_was_up=yes
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -q || die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
		die "apt-get install failed"
	# Installing postgresql-NN makes Debian create and start a `main` cluster on port 5432; we
	# never use it, so do not leave it running if it was not running before.
	if [ $main_was_up = no ] && pg_main_online; then
		log "stopping the Debian main cluster that the package install started"
		as_root pg_ctlcluster "$PG_MAJOR" main stop || true
	fi
}

pg_main_online() {
	command -v pg_lsclusters >/dev/null &&
		pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" && $4 == "online" { f = 1 } END { exit !f }'
}

# Build prism and install it into the system PostgreSQL. The compiler's command lines go to a
# log that is shown only when the build fails (PRISM_VERBOSE_BUILD=1 shows them always).
build_and_install() {
	local blog
	blog=$(mktemp "${TMPDIR:-/tmp}/prism-build.XXXXXX.log") || die "mktemp failed"
	log "building prism"
	if [ "${PRISM_VERBOSE_BUILD:-0}" = 1 ]; then
		make -C "$PRISM_ROOT" -j2 PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$blog"
		[ "${PIPESTATUS[0]}" = 0 ] || die "build failed"
	elif ! make -C "$PRISM_ROOT" -j2 PG_CONFIG="$PG_CONFIG" >"$blog" 2>&1; then
		tail -n 60 "$blog" >&2
		die "build failed (whole log: $blog)"
	fi
	log "installing prism into $($PG_CONFIG --pkglibdir)"
	as_root make -C "$PRISM_ROOT" install PG_CONFIG="$PG_CONFIG" >>"$blog" 2>&1 ||
		{ tail -n 20 "$blog" >&2; die "make install failed (whole log: $blog)"; }
	rm -f "$blog"
}

# True if something listens on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print a free TCP port, searching from $PRISM_PORT_BASE (default 54320).
free_port() {
	local p=${PRISM_PORT_BASE:-54320} last
	last=$((p + 200))
	while [ "$p" -lt "$last" ]; do
		if ! port_in_use "$p" && [ ! -e "/tmp/.s.PGSQL.$p.lock" ]; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	die "no free port from ${PRISM_PORT_BASE:-54320} on"
}

# Make a temp dir the cluster owner can use; prints its path.
pg_tempdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/prism-${1:-pg}.XXXXXX") || die "mktemp failed"
	chmod 700 "$d"
	[ "$(id -u)" = 0 ] && chown postgres: "$d"
	echo "$d"
}

# cluster_init DIR [initdb options...]: initdb into DIR/data, with socket and log in DIR.
cluster_init() {
	local dir=$1
	shift
	as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
		--no-sync "$@" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
	cat >>"$dir/data/postgresql.conf" <<-EOF
		# set by prism test/lib.sh
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		fsync = off
		shared_buffers = 128MB
		max_connections = 40
		log_min_messages = warning
		log_line_prefix = '%m [%p] '
	EOF
}

# cluster_start DIR PORT: start the cluster in DIR/data on PORT, log to DIR/server.log.
# The server gets the extra environment in the array PRISM_SERVER_ENV (NAME=VALUE words), if set.
cluster_start() {
	local dir=$1 port=$2
	as_pg env ${PRISM_SERVER_ENV[@]+"${PRISM_SERVER_ENV[@]}"} "$PG_BIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ tail -n 30 "$dir/server.log" >&2; return 1; }
}

# cluster_stop DIR [mode]: stop the cluster in DIR/data if it runs (mode fast by default).
cluster_stop() {
	local dir=$1 mode=${2:-fast}
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 ||
		as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# cluster_new NAME: make a temp dir, init and start a cluster there on a free port. Sets
# CLUSTER_DIR and CLUSTER_PORT. The caller removes it with cluster_destroy "$CLUSTER_DIR", or
# all of its clusters at once with cluster_destroy_all, best from a trap:
#   trap cluster_destroy_all EXIT; trap 'exit 1' INT TERM
PRISM_CLUSTERS=()
cluster_new() {
	local try
	CLUSTER_DIR=$(pg_tempdir "${1:-pg}") || return 1
	PRISM_CLUSTERS+=("$CLUSTER_DIR")
	cluster_init "$CLUSTER_DIR" || return 1
	# another server may take the port between the check and the start: try a few
	for try in 1 2 3; do
		CLUSTER_PORT=$(free_port) || return 1
		cluster_start "$CLUSTER_DIR" "$CLUSTER_PORT" && return 0
		sleep 1
	done
	return 1
}

# cluster_destroy DIR: stop the cluster and remove its temp dir.
cluster_destroy() {
	local dir=$1
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	cluster_stop "$dir"
	rm -rf "$dir"
}

# cluster_destroy_all: stop and remove every cluster this shell made with cluster_new.
cluster_destroy_all() {
	local d
	for d in "${PRISM_CLUSTERS[@]}"; do
		cluster_destroy "$d"
	done
	PRISM_CLUSTERS=()
}

# cluster_psql DIR PORT [psql args...]: psql as postgres to that cluster, stopping on errors.
cluster_psql() {
	local dir=$1 port=$2
	shift 2
	"$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}
