#!/usr/bin/env bash
# Installs the Debian packages listed in test/system-packages.txt that are not installed yet.
# Run by `npm run deps:system` (part of the README's test command). Needs root (or sudo) and
# apt-get; prints what it does, and does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
list=test/system-packages.txt
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] system packages present: ${wanted[*]}"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "[deps] missing Debian packages ${missing[*]} and no apt-get here: install them by hand" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[deps] missing ${missing[*]}: run as root, or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "[deps] installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
