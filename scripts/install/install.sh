#!/bin/sh
# Installs Outpost as systemd services: the gateway (default) and/or the
# cloud, built from this checkout.
#
#   sudo scripts/install/install.sh                  # the gateway, on this machine
#   sudo scripts/install/install.sh gateway cloud    # both
#   DESTDIR=/tmp/pi GOARCH=arm64 scripts/install/install.sh
#                                       # stage a Raspberry Pi (64-bit OS) install
#
# What goes where:
#   $PREFIX/bin/outpost-<part>              the binary (PREFIX: /usr/local)
#   /etc/outpost/<part>.yaml                configs/<part>.yaml with data_dir set
#                                           to the state directory below; an
#                                           edited one is kept and the new
#                                           default is written next to it as
#                                           <part>.yaml.new
#   /etc/systemd/system/outpost-<part>.service   configs/outpost-<part>.service
#   /var/lib/outpost, /var/lib/outpost-cloud     data (systemd StateDirectory)
#
# On the live system (no DESTDIR) it also creates the system user "outpost"
# (in the dialout and gpio groups where they exist, for serial and GPIO
# devices) and enables and starts the services. With DESTDIR it only
# stages files: copy the tree to the target and run the last steps there.
set -eu

cd "$(dirname "$0")/../.."
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
parts=${*:-gateway}

for p in $parts; do
	case $p in
	gateway | cloud) ;;
	*)
		echo "install.sh: unknown part '$p' (want gateway and/or cloud)" >&2
		exit 2
		;;
	esac
done
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: installing on this system needs root (or set DESTDIR to stage the files)" >&2
	exit 2
fi
if [ -z "$DESTDIR" ] && { [ -n "${GOOS:-}" ] || [ -n "${GOARCH:-}" ]; }; then
	echo "install.sh: GOOS/GOARCH build for another machine: set DESTDIR to stage the files" >&2
	exit 2
fi
command -v go >/dev/null 2>&1 || {
	echo "install.sh: go is not installed (https://go.dev/dl/)" >&2
	exit 2
}

bindir=$DESTDIR$PREFIX/bin
etc=$DESTDIR/etc/outpost
units=$DESTDIR/etc/systemd/system
mkdir -p "$bindir" "$etc" "$units"

for p in $parts; do
	case $p in
	gateway) pkg=./gateway/cmd/outpost-gateway state=/var/lib/outpost ;;
	cloud) pkg=./cloud/cmd/outpost-cloud state=/var/lib/outpost-cloud ;;
	esac
	echo "building outpost-$p for $(go env GOOS)/$(go env GOARCH)"
	# Pure Go (SQLite included): no C toolchain, and cross-builds just work.
	CGO_ENABLED=0 go build -trimpath -o "$bindir/outpost-$p.tmp" "$pkg"
	mv "$bindir/outpost-$p.tmp" "$bindir/outpost-$p"

	# An absolute data_dir: the CLI (device add, claim-code) then finds the
	# same database whatever directory it runs in.
	conf=$etc/$p.yaml
	sed "s|^data_dir: .*|data_dir: $state|" configs/$p.yaml >"$conf.default"
	if [ ! -e "$conf" ]; then
		mv "$conf.default" "$conf"
		echo "wrote $conf"
	elif cmp -s "$conf.default" "$conf"; then
		rm "$conf.default"
	else
		mv "$conf.default" "$conf.new"
		echo "kept your $conf; the current defaults are in $conf.new"
	fi
	chmod 0640 "$conf"

	sed "s|/usr/local/bin/|$PREFIX/bin/|g" configs/outpost-$p.service >"$units/outpost-$p.service"
	chmod 0644 "$units/outpost-$p.service"
	echo "wrote $units/outpost-$p.service"
done

if [ -n "$DESTDIR" ]; then
	echo "staged in $DESTDIR; on the target, as root: create the user 'outpost', then"
	echo "  chgrp outpost /etc/outpost/*.yaml && systemctl daemon-reload && systemctl enable --now$(for p in $parts; do printf ' outpost-%s' "$p"; done)"
	exit 0
fi

if ! id outpost >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/outpost --no-create-home --shell /usr/sbin/nologin outpost
	echo "created system user outpost"
fi
for g in dialout gpio; do
	if getent group "$g" >/dev/null 2>&1; then
		usermod -a -G "$g" outpost
	fi
done
chgrp outpost "$etc"/*.yaml
systemctl daemon-reload
for p in $parts; do
	systemctl enable --now "outpost-$p"
	systemctl restart "outpost-$p" # a reinstall runs the new binary
done
for p in $parts; do
	case $p in
	gateway)
		echo
		echo "outpost-gateway is running. Its log, with the addresses devices use:"
		echo "  journalctl -u outpost-gateway -f"
		echo "Add a device (prints its token; templates come from the cloud or from"
		echo "the templates section of /etc/outpost/gateway.yaml):"
		echo "  sudo -u outpost $PREFIX/bin/outpost-gateway -config /etc/outpost/gateway.yaml device add -template <id> -name <name>"
		;;
	cloud)
		echo
		echo "outpost-cloud is running. On its first start it writes the generated Admin password to a file only it can read:"
		echo "  sudo cat /var/lib/outpost-cloud/admin-password   # then delete it"
		;;
	esac
done
