#!/usr/bin/env bash
# Installs the system programs the tests drive for real (Debian/Ubuntu, as root or with sudo).
# Only what is missing is installed, so a second run costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# command (or file, for data packages such as fonts) → Debian package; extend the list when a
# test needs a new real program
declare -A NEEDS=()
[ -f scripts/system-packages.txt ] && while read -r cmd pkg; do
  [[ -z "${cmd}" || "${cmd}" == \#* ]] && continue
  NEEDS[$cmd]=$pkg
done < scripts/system-packages.txt
missing=()
# a path may hold a glob (PostgreSQL's programs live under its version: /usr/lib/postgresql/15/bin)
present() { if [[ "$1" == /* ]]; then compgen -G "$1" >/dev/null; else command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; fi; }
for cmd in "${!NEEDS[@]}"; do present "$cmd" || missing+=("${NEEDS[$cmd]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
