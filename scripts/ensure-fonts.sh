#!/usr/bin/env bash
# Builds the documents' typeface, when missing or out of date: Onedoor Serif GB, the GB2312
# subset of Debian's Noto Serif CJK SC (Regular and Bold, TrueType outlines), in .tools/fonts/,
# with the fontconfig file PdfRenderer gives Chromium (lib/documents/renderer.ts,
# DEFAULT_FONTCONFIG_FILE). Why a subset: scripts/subset-fonts.py. Built here, never committed.
#   scripts/ensure-fonts.sh
# fontTools comes from PyPI into a venv in .tools/python (pip --user where venv is missing).
# Silent when everything is already in place.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FONTTOOLS_VERSION="4.68.0"
SOURCE_DIR="/usr/share/fonts/opentype/noto"
FONT_DIR="$TOOLS_DIR/fonts"
# Outside FONT_DIR: fontconfig would take a cache directory inside it for a font directory.
CACHE_DIR="$TOOLS_DIR/fonts-cache"
VENV="$TOOLS_DIR/python"

for f in NotoSerifCJK-Regular.ttc NotoSerifCJK-Bold.ttc; do
  [[ -f "$SOURCE_DIR/$f" ]] ||
    die "$SOURCE_DIR/$f missing (Debian fonts-noto-cjk: scripts/ensure-system.sh)"
done
command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"

mkdir -p "$TOOLS_DIR"
# Two scripts run at once (tests and bench) build the fonts once.
exec 9>"$TOOLS_DIR/fonts.lock"
flock 9

has_fonttools() {
  local version
  version="$("$1" -c 'import fontTools; print(fontTools.version)' 2>/dev/null)" || return 1
  [[ "$version" == "$FONTTOOLS_VERSION" ]]
}

python="$VENV/bin/python"
if ! has_fonttools "$python"; then
  if [[ -x "$python" ]] || python3 -m venv "$VENV" >/dev/null 2>&1; then
    log "installing fontTools $FONTTOOLS_VERSION into $VENV..."
    "$python" -m pip install -q --disable-pip-version-check "fonttools==$FONTTOOLS_VERSION" >&2
  else
    python="python3"
    if ! has_fonttools "$python"; then
      log "no python3 venv module: installing fontTools $FONTTOOLS_VERSION with pip --user..."
      python3 -m pip install -q --user --disable-pip-version-check \
        "fonttools==$FONTTOOLS_VERSION" >&2
    fi
  fi
  has_fonttools "$python" || die "fontTools $FONTTOOLS_VERSION did not install"
fi

"$python" "$SCRIPTS_DIR/subset-fonts.py" "$SOURCE_DIR" "$REPO/templates" "$FONT_DIR"

# The system's fonts (for every character outside the subset) plus ours. Our cache directory
# comes first, so fontconfig writes the cache of .tools/fonts there, not in a system directory.
# Absolute paths (fontconfig takes a relative cachedir from the working directory); a moved
# checkout rewrites the file on its next run.
conf="$FONT_DIR/fonts.conf"
conf_text() {
  cat <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- Written by scripts/ensure-fonts.sh: the system's fonts and the documents' subset. -->
<fontconfig>
  <cachedir>$CACHE_DIR</cachedir>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>$FONT_DIR</dir>
</fontconfig>
EOF
}
if ! cmp -s <(conf_text) "$conf"; then
  conf_text >"$conf.tmp"
  mv "$conf.tmp" "$conf"
fi

# A cache made now spares each browser launch the scan of the fonts; fc-cache keeps a valid one.
mkdir -p "$CACHE_DIR"
if command -v fc-cache >/dev/null 2>&1; then
  FONTCONFIG_FILE="$conf" fc-cache "$FONT_DIR" >/dev/null 2>&1 || log "warning: fc-cache failed"
fi
