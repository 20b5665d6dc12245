#!/usr/bin/env bash
# Installs the Debian packages derlink's tests and demo use, when they are missing.
# As root it installs them with apt-get; otherwise it says what is missing (tests that need
# them then skip with that reason, except under CI=true where they fail).
set -euo pipefail

packages=(openssl prosody prosody-modules ejabberd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (install them as root:" \
       "apt-get install ${missing[*]}); tests that need them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The packages' own system services must not run: derlink starts its own servers.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
