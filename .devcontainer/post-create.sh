#!/usr/bin/env bash
# Runs once when the dev container (or Codespace) is created: datasets, a Release build, and the .NET Interactive
# kernel for Jupyter — so VS Code's Jupyter extension offers ".NET (C#)" for the notebooks with no further step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash datasets/fetch.sh || echo "post-create: continuing without Fashion-MNIST (notebooks 02 and 04 need it; see datasets/README.md)" >&2
dotnet build Notebooks.sln -c Release
# The kernel tool into ~/.dotnet/tools-interactive and the ".NET (C#)" kernelspec into the user's Jupyter folder
# (~/.local/share/jupyter/kernels/.net-csharp), its HTTP API on loopback only.
dotnet run -c Release --no-build --project src/NotebookRunner -- kernel install --tool-path "$HOME/.dotnet/tools-interactive"
