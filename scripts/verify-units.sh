#!/usr/bin/env bash
# Verify systemd/*.service with systemd-analyze and fail on ANY line it prints: it reports
# unknown keys, bad values and missing executables as warnings with exit status 0.
#
# The units' ExecStart points at the documented install location (/opt/gepad, ~/.local/bin),
# which does not exist on a development machine, so each unit is copied to a temporary directory
# with ExecStart's binary replaced by this checkout's entry point (.venv/bin/gepad, or $GEPAD_BIN).
#   scripts/verify-units.sh            # both units
#   scripts/verify-units.sh FILE...    # the given unit files
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
  echo "verify-units: systemd-analyze not found (install systemd)" >&2
  exit 2
fi
bin=${GEPAD_BIN:-$PWD/.venv/bin/gepad}
if [[ ! -x "$bin" ]]; then
  echo "verify-units: $bin is not an executable; build .venv first (./dev) or set GEPAD_BIN" >&2
  exit 2
fi

units=("$@")
[[ ${#units[@]} -gt 0 ]] || units=(systemd/gepad.service systemd/gepad-user.service)

work=$(mktemp -d /tmp/gepad-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/system" "$work/user" "$work/runtime"
chmod 0700 "$work/runtime"

status=0
for unit in "${units[@]}"; do
  name=$(basename "$unit")
  # A user unit is named *-user.service here; it installs as gepad.service in the user manager.
  if [[ "$name" == *-user.service ]]; then
    scope=user; dest="$work/user/${name%-user.service}.service"
  else
    scope=system; dest="$work/system/$name"
  fi
  # Replace only the binary, keep the arguments: "ExecStart=/x/gepad serve" -> "$bin serve".
  sed -E "s#^(ExecStart=[-@:+!]*)[^ ]+#\1$bin#" "$unit" > "$dest"
  if ! grep -q "^ExecStart=[-@:+!]*$bin " "$dest"; then
    echo "verify-units: $unit: no ExecStart line to rewrite" >&2
    status=1; continue
  fi
  rc=0
  if [[ $scope == user ]]; then
    # The user manager needs a runtime directory; point it at a private empty one.
    out=$(XDG_RUNTIME_DIR="$work/runtime" systemd-analyze --user --man=no verify "$dest" 2>&1) \
      || rc=$?
  else
    out=$(systemd-analyze --man=no verify "$dest" 2>&1) || rc=$?
  fi
  if [[ -n "$out" || $rc -ne 0 ]]; then
    echo "verify-units: $unit ($scope): systemd-analyze exited $rc and printed:" >&2
    echo "$out" | sed "s#$dest#$unit#g" >&2
    status=1
  else
    echo "verify-units: $unit ($scope): OK"
  fi
done
exit $status
