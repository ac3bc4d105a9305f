#!/usr/bin/env bash
# Installs the node-oidc-provider peer into bench/peer/node_modules (git-ignored),
# exactly as pinned by package-lock.json (versions + integrity hashes), from the npm
# registry. Skips npm when the pinned oidc-provider is already installed.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "bench/peer: node and npm are required (oidc-provider 9 needs node ^20.19 || ^22.12 || >=23)" >&2
  exit 1
fi
# oidc-provider 9 is ESM-only and declares node ^20.19.0 || ^22.12.0 || >=23.0.0.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit((a===20&&b>=19)||(a===22&&b>=12)||a>=23?0:1)'; then
  echo "bench/peer: node $(node --version) is too old for oidc-provider 9 (needs ^20.19 || ^22.12 || >=23)" >&2
  exit 1
fi

want=$(node -p 'require("./package-lock.json").packages["node_modules/oidc-provider"].version')
have=$(node -p 'try { require("./node_modules/oidc-provider/package.json").version } catch { "" }')
if [ "$want" = "$have" ] && [ -f node_modules/.package-lock.json ]; then
  echo "bench/peer: oidc-provider $have already installed" >&2
  exit 0
fi

npm ci --no-audit --no-fund --omit=dev >&2
echo "bench/peer: oidc-provider $(node -p 'require("./node_modules/oidc-provider/package.json").version') installed" >&2
