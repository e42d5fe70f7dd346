#!/usr/bin/env bash
# apt-install.sh PACKAGE... — installs Debian/Ubuntu packages that are missing, waiting for the package manager's
# lock when another apt/dpkg process holds it (up to APT_LOCK_WAIT seconds, default 600), and says what it did.
# APT_REINSTALL=1 reinstalls them even where dpkg lists them (their files were removed or hidden).
# Exit status: 0 when every package is installed afterwards, 1 otherwise (with the reason on stderr).
set -uo pipefail
missing=()
reinstall=()
[ -n "${APT_REINSTALL:-}" ] && reinstall=(--reinstall)
for p in "$@"; do
  if [ -n "${APT_REINSTALL:-}" ]; then missing+=("$p"); continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "apt: already installed: $*"; exit 0; fi
if ! command -v apt-get >/dev/null; then echo "apt: no apt-get on this machine; install by hand: ${missing[*]}" >&2; exit 1; fi
sudo=""; [ "$(id -u)" -ne 0 ] && { command -v sudo >/dev/null && sudo="sudo -n" || { echo "apt: need root or sudo to install ${missing[*]}" >&2; exit 1; }; }
wait=${APT_LOCK_WAIT:-600}
run() {   # runs apt-get, retrying while another process holds the lock
  local start=$SECONDS out status
  while :; do
    out=$($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" 2>&1); status=$?
    if [ $status -eq 0 ]; then return 0; fi
    if grep -qiE "could not get lock|unable to acquire|is another process using it" <<<"$out" && [ $((SECONDS - start)) -lt "$wait" ]; then
      echo "apt: the package manager is busy (another apt/dpkg holds its lock); waiting…"; sleep 10; continue
    fi
    echo "$out" | tail -5 >&2; return $status
  done
}
echo "apt: installing ${missing[*]}"
run update -qq || { echo "apt: 'apt-get update' failed" >&2; exit 1; }
run install -y -qq --no-install-recommends "${reinstall[@]}" "${missing[@]}" || { echo "apt: could not install ${missing[*]}" >&2; exit 1; }
echo "apt: installed ${missing[*]}"
