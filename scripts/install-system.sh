#!/usr/bin/env bash
# Installs the Debian packages wenshu needs, idempotently.
# LibreOffice comes from bookworm-backports (25.2): Debian 12's own 7.4 converts ~2x slower.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v soffice >/dev/null 2>&1 || need+=(lo)
/usr/bin/python3 -c 'import uno' >/dev/null 2>&1 || need+=(lo)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
# Plain Debian packages, one per line, each with why it is needed; installed when dpkg lacks one.
PLAIN_PKGS=(
  fonts-noto-cjk   # the CJK fonts every template names (mapped by docker/fontconfig)
  redis-server     # the queue and state; tests start their own on a free port
  poppler-utils    # pdftotext/pdftoppm: tests read the PDFs, the studio shows page images
  fontconfig
  chromium         # headless browser for tests/test_browser_*.py (/docs, /studio), driven by selenium
  chromium-driver  # chromedriver for selenium: Debian's, so nothing is downloaded at test time
  zbar-tools       # zbarimg: tests decode $qr/$barcode from the rendered PDF's page image
  curl             # make run's readiness probe and the README request (tests/test_generated_client.py runs it)
)
for pkg in "${PLAIN_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("pkg:$pkg")
done
fc-list 2>/dev/null | grep 'Noto Serif CJK' >/dev/null || need+=(fonts)  # no -q: it would SIGPIPE fc-list under pipefail
fc-list 2>/dev/null | grep 'Noto Sans CJK' >/dev/null || need+=(fonts)
if command -v soffice >/dev/null 2>&1; then
  ver=$(dpkg-query -W -f='${Version}' libreoffice-core-nogui 2>/dev/null || dpkg-query -W -f='${Version}' libreoffice-core 2>/dev/null || echo 0)
  case "$ver" in 4:25.*|4:2[6-9].*) ;; *) need+=(lo) ;; esac
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "install-system: installing ${need[*]}" >&2
if . /etc/os-release && [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/wenshu-backports.list >/dev/null
  fi
  BP=(-t bookworm-backports)
else
  BP=()
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg instead of failing on its lock.
APT=($SUDO apt-get -o DPkg::Lock::Timeout=600)
"${APT[@]}" update -qq
if printf '%s\n' "${need[@]}" | grep -qx lo; then
  "${APT[@]}" install -y -qq --no-install-recommends "${BP[@]}" libreoffice-writer-nogui python3-uno
fi
"${APT[@]}" install -y -qq --no-install-recommends "${PLAIN_PKGS[@]}"
