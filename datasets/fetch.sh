#!/usr/bin/env bash
# Installs the datasets the notebooks use, where this machine allows it. Never commits them.
#   Fashion-MNIST (MIT licence), tried in order:
#   1. the Debian/Ubuntu package `dataset-fashion-mnist` (IDX .gz files in /usr/share/datasets/fashion-mnist/, where the
#      library's loader looks) — reinstalled when dpkg lists it but its files are gone;
#   2. the official download into datasets/fashion-mnist/ (curl; each file's decompressed content checked against the
#      SHA-256 the loader knows, written to a temporary file and moved into place only when it matches).
# Waits for the package manager's lock when another apt process holds it, and says what it did. Exit 0 when the
# dataset is there afterwards, 1 otherwise (the notebooks and tests that need it then say so, with the ways to get it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fmnist=/usr/share/datasets/fashion-mnist
local_dir="$here/fashion-mnist"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
sha=(c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
     5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34)
complete() { for f in "${files[@]}"; do [ -f "$1/$f" ] || return 1; done; }

for dir in "${FASHION_MNIST_DIR:-}" "$local_dir" "$fmnist"; do
  if [ -n "$dir" ] && complete "$dir"; then echo "datasets: Fashion-MNIST found in $dir"; exit 0; fi
done
if command -v apt-get >/dev/null; then
  reinstall=""
  dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed" && reinstall=1
  if APT_REINSTALL=$reinstall bash "$here/../build/apt-install.sh" dataset-fashion-mnist && complete "$fmnist"; then
    echo "datasets: installed Fashion-MNIST into $fmnist${reinstall:+ (reinstalled: dpkg listed it, its files were missing)}"
    exit 0
  fi
fi
if command -v curl >/dev/null && command -v gzip >/dev/null; then
  source_url=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
  mkdir -p "$local_dir"
  ok=1
  for i in "${!files[@]}"; do
    f=${files[$i]}; tmp="$local_dir/.$f.tmp"
    if curl -fsSL --max-time 300 -o "$tmp" "$source_url/$f" \
       && [ "$(gzip -dc "$tmp" | sha256sum | cut -d' ' -f1)" = "${sha[$i]}" ]; then mv -f "$tmp" "$local_dir/$f"
    else rm -f "$tmp"; ok=0; echo "datasets: could not download $f from $source_url (or its content did not match)" >&2; break; fi
  done
  if [ $ok -eq 1 ]; then echo "datasets: downloaded Fashion-MNIST into $local_dir"; exit 0; fi
fi
echo "datasets: could not install Fashion-MNIST here; see datasets/README.md for the other ways to provide it." >&2
exit 1
