#!/usr/bin/env bash
# Installs the Debian packages a job needs when they are missing: `run` needs python3-venv;
# `test` also needs a PostgreSQL server, Chromium with its driver for the browser tests,
# LibreOffice Calc, which opens every kind of export in tests/test_export_libreoffice.py, and
# ClickHouse's server (servertools/clickhouse.py starts a two-shard cluster of it); `npm` needs
# Node's package manager, which installs axe-core for the accessibility test (package.json).
set -euo pipefail
job="${1:-run}"
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "$job" = npm ]; then
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
if [ "$job" = test ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
  [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
  # Screenshots taken by the browser tests show the emoji of demo messages.
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
