#!/usr/bin/env bash
# Copies the map page's libraries from npm (web/package.json, pinned) into web/vendor, which
# the server embeds in its binary: the page then needs nothing from the internet.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
mkdir -p vendor
cp node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css vendor/
cp node_modules/maplibre-gl/LICENSE.txt vendor/maplibre-gl.LICENSE.txt
echo "maplibre-gl $(node -p 'require("./node_modules/maplibre-gl/package.json").version')" >vendor/VERSIONS
