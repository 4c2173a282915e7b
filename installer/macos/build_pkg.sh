#!/usr/bin/env bash
# Build Meridian.app with PyInstaller and wrap it in an installer package, on macOS.
#
#   installer/macos/build_pkg.sh                       (from a clone, after python3 dev.py test)
#
# Output: dist/Meridian.app, dist/Meridian-<version>.pkg (a product archive: what MDMs deploy),
# dist/meridian.mobileconfig (the policy profile example from installer/policy/).
# The package installs /Applications/Meridian.app and /Library/LaunchAgents/app.meridian.Meridian.plist
# (start at login for every user) and starts Meridian for the person at the console.
#
# Signing and notarisation (SIGNING.md), each optional; without them the build is unsigned:
#   MERIDIAN_CODESIGN_IDENTITY   "Developer ID Application: Example Org (TEAMID1234)"
#   MERIDIAN_INSTALLER_IDENTITY  "Developer ID Installer: Example Org (TEAMID1234)"
#   MERIDIAN_NOTARY_PROFILE      a keychain profile made with `xcrun notarytool store-credentials`
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
LABEL=app.meridian.Meridian
[ "$(uname -s)" = Darwin ] || { echo "build_pkg: run this on macOS" >&2; exit 1; }
[ -x "$PY" ] || { echo "build_pkg: run python3 dev.py test (or dev.py build) first for .venv" >&2; exit 1; }
cd "$ROOT"

# 1. The app. build.spec signs every binary and the bundle when MERIDIAN_CODESIGN_IDENTITY is set
#    (hardened runtime, entitlements.plist).
"$PY" -m PyInstaller --noconfirm --clean build.spec
APP="$ROOT/dist/Meridian.app"
EXE="$APP/Contents/MacOS/meridian"
VERSION="$("$EXE" --version | awk '{print $2}')"
"$EXE" --selftest
if [ -n "${MERIDIAN_CODESIGN_IDENTITY:-}" ]; then
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

# 2. The payload: the app and the LaunchAgent, as they will be on disk.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PAYLOAD="$WORK/root"
mkdir -p "$PAYLOAD/Applications" "$PAYLOAD/Library/LaunchAgents"
ditto "$APP" "$PAYLOAD/Applications/Meridian.app"
install -m 644 "$HERE/$LABEL.plist" "$PAYLOAD/Library/LaunchAgents/$LABEL.plist"

# Not relocatable: always install to /Applications, never "update" a copy the person moved.
pkgbuild --analyze --root "$PAYLOAD" "$WORK/component.plist"
/usr/libexec/PlistBuddy -c "Set :0:BundleIsRelocatable false" "$WORK/component.plist"
pkgbuild --root "$PAYLOAD" --component-plist "$WORK/component.plist" \
    --identifier "$LABEL.pkg" --version "$VERSION" --install-location / \
    --scripts "$HERE/scripts" "$WORK/Meridian-component.pkg"

# 3. The product archive, signed with the Developer ID Installer certificate when given.
PKG="$ROOT/dist/Meridian-$VERSION.pkg"
sign=()
[ -n "${MERIDIAN_INSTALLER_IDENTITY:-}" ] && sign=(--sign "$MERIDIAN_INSTALLER_IDENTITY" --timestamp)
# ${sign[@]+...}: bash 3.2 (macOS) treats an empty array as unset under set -u.
productbuild --package "$WORK/Meridian-component.pkg" ${sign[@]+"${sign[@]}"} "$PKG"

# 4. Notarise and staple (needs both signatures).
if [ -n "${MERIDIAN_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$PKG" --keychain-profile "$MERIDIAN_NOTARY_PROFILE" --wait
    xcrun stapler staple "$PKG"
    spctl --assess --type install --verbose=2 "$PKG"
fi

cp "$ROOT/installer/policy/meridian.mobileconfig" "$ROOT/dist/meridian.mobileconfig"
cp "$HERE/uninstall.sh" "$ROOT/dist/meridian-uninstall.sh"
echo "build_pkg: $PKG ($(du -sh "$APP" | cut -f1) app, $(du -h "$PKG" | cut -f1) pkg)"
