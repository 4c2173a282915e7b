#!/bin/sh
# Remove Meridian from this Mac (run with sudo). The person's data stays unless --remove-data:
# then the data of the person logged in at the console goes too (settings, sync state, logs,
# sign-ins in ~/Library/Application Support/Meridian, and Meridian's Keychain items).
#   sudo /bin/sh uninstall.sh [--remove-data]
set -u
LABEL=app.meridian.Meridian
[ "$(id -u)" = 0 ] || { echo "uninstall.sh: run with sudo" >&2; exit 1; }
remove_data=0
[ "${1:-}" = "--remove-data" ] && remove_data=1

console_user=$(/usr/bin/stat -f %Su /dev/console)
if [ -n "$console_user" ] && [ "$console_user" != "root" ] && [ "$console_user" != "loginwindow" ]; then
    uid=$(/usr/bin/id -u "$console_user")
    /bin/launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
    for pid in $(/usr/bin/pgrep -x -u "$uid" meridian); do
        /bin/kill -TERM "$pid" 2>/dev/null || true
    done
fi
/bin/rm -f "/Library/LaunchAgents/$LABEL.plist"
/bin/rm -rf "/Applications/Meridian.app"
/usr/sbin/pkgutil --forget "$LABEL.pkg" >/dev/null 2>&1 || true

if [ "$remove_data" = 1 ] && [ -n "${uid:-}" ]; then
    home=$(/usr/bin/dscl . -read "/Users/$console_user" NFSHomeDirectory | /usr/bin/awk '{print $2}')
    /bin/rm -rf "$home/Library/Application Support/Meridian"
    # The keys that encrypt the sign-ins (service "Meridian" in the login keychain).
    while /bin/launchctl asuser "$uid" /usr/bin/sudo -u "$console_user" \
        /usr/bin/security delete-generic-password -s Meridian >/dev/null 2>&1; do :; done
fi
echo "Meridian removed.$( [ "$remove_data" = 1 ] && echo " Data of $console_user removed." )"
