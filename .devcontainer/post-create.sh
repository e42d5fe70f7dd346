#!/usr/bin/env bash
# Runs once when the dev container is created: datasets, then a Release build of the whole solution.
set -euo pipefail
cd "$(dirname "$0")/.."
bash datasets/fetch.sh
dotnet build Notebooks.sln -c Release
