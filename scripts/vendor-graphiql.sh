#!/usr/bin/env bash
# Refreshes the GraphiQL assets that the server embeds (api/assets/graphiql/), so that
# GraphiQL works in a browser with no access to any outside host:
#
#   scripts/vendor-graphiql.sh
#
# It installs the pinned npm packages into a temporary directory and copies their prebuilt
# browser bundles and licences. GraphiQL 4.1 is the last release with a UMD bundle (5.x is
# ES modules with Monaco, which needs a bundler); its UMD bundle wants React 18's UMD builds
# (React 19 ships none). Commit the copied files: a build needs no network.
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.3.1

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
out=api/assets/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm --prefix "$work" install --no-audit --no-fund --no-save --ignore-scripts \
    "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" >&2

mods=$work/node_modules
mkdir -p "$out"
cp "$mods/graphiql/dist/index.umd.js" "$out/graphiql.min.js"
cp "$mods/graphiql/dist/style.css" "$out/graphiql.min.css"
cp "$mods/react/umd/react.production.min.js" "$out/react.production.min.js"
cp "$mods/react-dom/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "$mods/graphiql/LICENSE" "$out/LICENSE.graphiql"
cp "$mods/react/LICENSE" "$out/LICENSE.react"
cp "$mods/react-dom/LICENSE" "$out/LICENSE.react-dom"
# A source map comment would make browser tools fetch a file we do not serve.
sed -i -e 's|//# sourceMappingURL=.*$||' "$out"/*.js "$out"/*.css
cat >"$out/VERSIONS" <<VERSIONS
graphiql $GRAPHIQL_VERSION (dist/index.umd.js, dist/style.css), MIT
react $REACT_VERSION (umd/react.production.min.js), MIT
react-dom $REACT_VERSION (umd/react-dom.production.min.js), MIT
Copied by scripts/vendor-graphiql.sh; see the LICENSE.* files.
VERSIONS
ls -l "$out" >&2
