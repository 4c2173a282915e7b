#!/usr/bin/env bash
# Package the PyInstaller bundle (dist/meridian, from build.spec) as a .deb.
#
#   bash installer/linux/build_deb.sh [BUNDLE_DIR [OUT_DIR]]     (python3 dev.py build runs it)
#
# Before packaging, the bundle must pass `meridian --selftest` and stay under the size target.
# Needs dpkg-deb (Debian and Ubuntu have it); desktop-file-validate and appstreamcli, when
# present, check the desktop entries and the AppStream file.
# MERIDIAN_DEB_COMPRESS=gzip packs in 5 s instead of 30-90 s (xz, the default: 34 MiB instead
# of 46 MiB); the packaging smoke test uses it. MERIDIAN_DEB_MAINTAINER="Name <address>" sets
# the Maintainer field (set it for releases).
#
# Layout: /opt/meridian (the bundle), /usr/bin/meridian (a link), the menu entry, the autostart
# entry in /etc/xdg/autostart (every user, at login), AppStream metadata, an empty
# /etc/meridian/policy.d for IT's policy files, and the policy examples in /usr/share/doc.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUNDLE="$(cd "${1:-$ROOT/dist/meridian}" && pwd)"
OUT="${2:-$ROOT/dist}"
APP_ID=meridian
DESKTOP_ID=app.meridian.Meridian
# The size target of issue 9: the unpacked bundle under 120 MiB.
MAX_BUNDLE_BYTES=$((120 * 1024 * 1024))

started=$(date +%s)
exe="$BUNDLE/$APP_ID"
[ -x "$exe" ] || { echo "build_deb: no bundle at $BUNDLE (run: python3 dev.py build)" >&2; exit 1; }

# --- the bundle works and is small enough -------------------------------------------------------
version_line="$("$exe" --version)"
VERSION="$(echo "$version_line" | awk '{print $2}')"
echo "build_deb: $version_line"
if ! selftest="$(QT_QPA_PLATFORM=offscreen "$exe" --selftest)"; then
    echo "build_deb: the bundle failed its self-test: $selftest" >&2
    exit 1
fi
echo "build_deb: self-test ok"
bytes=$(du -sb "$BUNDLE" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
echo "build_deb: bundle $mib MiB unpacked ($bytes bytes, $(find "$BUNDLE" -type f | wc -l) files)"
if [ "$bytes" -gt "$MAX_BUNDLE_BYTES" ]; then
    echo "build_deb: the bundle is over the 120 MiB target; see the notes in build.spec" >&2
    exit 1
fi

# --- Debian version and architecture ------------------------------------------------------------
# PEP 440 pre-releases sort before the release in Debian only with a tilde: 1.0rc1 -> 1.0~rc1.
DEB_VERSION="$(echo "$VERSION" | sed -E 's/(\.?)(a|b|rc|dev)([0-9]*)$/~\2\3/')"
ARCH="$(dpkg --print-architecture)"
# The newest glibc symbol version any binary in the bundle needs (Python was built against it).
GLIBC_MIN="$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
    | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' \
    | sort -uV | tail -1)"

# --- the package tree ---------------------------------------------------------------------------
umask 022
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
chmod 755 "$STAGE"
install -d "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/etc/xdg/autostart" "$STAGE/usr/share/metainfo" "$STAGE/etc/meridian/policy.d" \
    "$STAGE/usr/share/doc/$APP_ID/policy" "$STAGE/DEBIAN"
cp -a "$BUNDLE" "$STAGE/opt/$APP_ID"
ln -s "/opt/$APP_ID/$APP_ID" "$STAGE/usr/bin/$APP_ID"
install -m 644 "$HERE/$DESKTOP_ID.desktop" "$STAGE/usr/share/applications/$DESKTOP_ID.desktop"
install -m 644 "$HERE/$DESKTOP_ID.autostart.desktop" "$STAGE/etc/xdg/autostart/$DESKTOP_ID.desktop"
sed -e "s/@VERSION@/$VERSION/" -e "s/@DATE@/$(date -u +%Y-%m-%d)/" \
    "$HERE/$DESKTOP_ID.metainfo.xml" > "$STAGE/usr/share/metainfo/$DESKTOP_ID.metainfo.xml"

# The icon from resources/ (SVG preferred, else a 256 px PNG): an app icon if the UI adds one,
# else the tray's idle glyph for light backgrounds (a calendar with two sync arrows).
icon_found=""
for stem in "$DESKTOP_ID" "$APP_ID" icon app icons/"$APP_ID" icons/app icons/idle-light; do
    if [ -f "$ROOT/resources/$stem.svg" ]; then
        install -D -m 644 "$ROOT/resources/$stem.svg" \
            "$STAGE/usr/share/icons/hicolor/scalable/apps/$DESKTOP_ID.svg"
        icon_found="$stem.svg"; break
    elif [ -f "$ROOT/resources/$stem.png" ]; then
        install -D -m 644 "$ROOT/resources/$stem.png" \
            "$STAGE/usr/share/icons/hicolor/256x256/apps/$DESKTOP_ID.png"
        icon_found="$stem.png"; break
    fi
done
[ -n "$icon_found" ] || echo "build_deb: note: no icon in resources/ yet; menus show a generic one"

for f in linux-policy.example.json meridian-policy.schema.json README.md; do
    if [ -f "$ROOT/installer/policy/$f" ]; then
        install -m 644 "$ROOT/installer/policy/$f" "$STAGE/usr/share/doc/$APP_ID/policy/$f"
    fi
done
cat > "$STAGE/usr/share/doc/$APP_ID/copyright" <<EOF
Meridian $VERSION
License: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)

/opt/$APP_ID bundles Python and these libraries, each under its own license: Qt 6 and PySide6
(LGPL-3.0), ICU (Unicode-3.0), cryptography (Apache-2.0 or BSD-3-Clause), google-api-python-client,
google-auth (Apache-2.0), msal (MIT), requests (Apache-2.0), keyring (MIT), APScheduler (MIT),
platformdirs (MIT), icalendar (BSD-2-Clause), python-dateutil (Apache-2.0 or BSD-3-Clause),
tzdata (Apache-2.0), tzlocal (MIT). The license files travel in the *.dist-info folders there.
EOF

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$STAGE/usr/share/applications/$DESKTOP_ID.desktop"
    desktop-file-validate "$STAGE/etc/xdg/autostart/$DESKTOP_ID.desktop"
fi
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --pedantic "$STAGE/usr/share/metainfo/$DESKTOP_ID.metainfo.xml" \
        >/dev/null || appstreamcli validate --no-net "$STAGE/usr/share/metainfo/$DESKTOP_ID.metainfo.xml"
fi

depends="libc6 (>= ${GLIBC_MIN:-2.28})"
while IFS= read -r line; do
    line="${line%%#*}"
    line="$(echo "$line" | xargs)"
    [ -n "$line" ] && depends="$depends, $line"
done < "$HERE/depends.txt"

cat > "$STAGE/DEBIAN/control" <<EOF
Package: $APP_ID
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: ${MERIDIAN_DEB_MAINTAINER:-Meridian contributors <meridian@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
Depends: $depends
Recommends: gnome-keyring | kwalletmanager | keepassxc, xdg-desktop-portal
Section: utils
Priority: optional
Description: two-way sync between Outlook and Google calendars
 Meridian keeps one person's Microsoft 365 (Outlook) calendars and Google
 calendars in sync from a tray icon, under rules IT can set in
 /etc/meridian/policy.json and /etc/meridian/policy.d/*.json.
 .
 Sign-ins are kept in the desktop's password store (Secret Service: GNOME
 Keyring, KWallet or KeePassXC).
EOF
# dpkg keeps an administrator's edits to the autostart entry (or its removal) across upgrades.
echo "/etc/xdg/autostart/$DESKTOP_ID.desktop" > "$STAGE/DEBIAN/conffiles"

mkdir -p "$OUT"
DEB="$OUT/${APP_ID}_${DEB_VERSION}_${ARCH}.deb"
case "${MERIDIAN_DEB_COMPRESS:-xz}" in
    gzip) compress=(-Zgzip -z6) ;;
    xz) compress=(-Zxz -z6 "--threads-max=$(nproc)") ;;
    *) echo "build_deb: MERIDIAN_DEB_COMPRESS is xz or gzip" >&2; exit 2 ;;
esac
dpkg-deb --root-owner-group "${compress[@]}" --build "$STAGE" "$DEB" >/dev/null
deb_bytes=$(stat -c %s "$DEB")
echo "build_deb: $DEB ($(awk -v b="$deb_bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB," \
    "$(( $(date +%s) - started )) s)"
