#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs
# (idempotently), then checks formatting and lints and runs every test.
#
#   tests/run.sh            # everything
#   tests/run.sh -- NAME    # only tests whose name contains NAME
#
# Build artifacts go to $CARGO_TARGET_DIR, by default a cache directory
# outside the clone, so a second run rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stance-build/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

step() { printf '\n== %s\n' "$*"; }

step "toolchain (rust-toolchain.toml)"
if ! command -v cargo >/dev/null; then
  echo "cargo is not installed; install rustup from https://rustup.rs and re-run" >&2
  exit 2
fi
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if command -v rustup >/dev/null; then
  # rustup installs the pinned toolchain with its targets on first use; make
  # that explicit so a missing download is reported here, clearly.
  if ! rustup target list --installed --toolchain "$channel" 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy --target wasm32-wasip2 || {
      echo "cannot install Rust $channel with the wasm32-wasip2 target; run: rustup target add wasm32-wasip2 --toolchain $channel" >&2
      exit 2
    }
  fi
fi
cargo --version
echo "target dir: $CARGO_TARGET_DIR"

step "test services: moto and pySigma (venv); faketime, chromium, docker-registry (Debian)"
# The AWS tests run moto in server mode from a venv outside the clone (which
# also holds pySigma for the Sigma differential test); the seed back-dates IAM
# users and keys with libfaketime; the compliance report test renders the HTML
# report in headless Chromium; the pack tests push to a registry on loopback.
tests/aws/moto.sh install
missing=()
for pkg in faketime chromium docker-registry; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null
  } || { echo "cannot install the Debian packages ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 2; }
fi

step "plugin toolchains: Node.js and npm (Debian); esbuild and componentize-js (npm, sdk/js)"
# componentize-py came with the venv above. The JavaScript SDK pins esbuild and
# componentize-js in sdk/js/package-lock.json; `stance plugin build` finds
# them there when a project has not installed its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
  $sudo apt-get install -y -q nodejs npm >/dev/null || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q nodejs npm >/dev/null
  } || { echo "cannot install Node.js (apt-get install nodejs npm)" >&2; exit 2; }
fi
if [ ! -x sdk/js/node_modules/.bin/componentize-js ] || [ sdk/js/package-lock.json -nt sdk/js/node_modules/.package-lock.json ]; then
  npm ci --prefix sdk/js --no-audit --no-fund --loglevel=error
fi

step "SDK unit tests (Python, JavaScript)"
python3 -m unittest discover sdk/python/tests
node --test sdk/js/test/

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The README's demo build (no AWS collector, no OCI client) must compile too.
cargo clippy -p stance --no-default-features --locked -- -D warnings

step "fuzz targets: build each and run it for 10 s (fuzz/run.sh; nightly and cargo-fuzz)"
# The parsers of untrusted input are fuzzed with cargo-fuzz (fuzz/README.md);
# a short run here keeps every target building and catches a regression
# the seeds reach. Long runs: fuzz/run.sh 600.
if command -v rustup >/dev/null && ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal || {
    echo "cannot install the nightly toolchain that cargo-fuzz needs (rustup toolchain install nightly)" >&2
    exit 2
  }
fi
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked || { echo "cannot install cargo-fuzz (cargo install cargo-fuzz --locked)" >&2; exit 2; }
fi
CARGO_TARGET_DIR="$(dirname "$CARGO_TARGET_DIR")/fuzz-target" fuzz/run.sh 10

step "tests"
# The `ci` profile is the release profile with unwinding, which the test
# harness needs (Cargo.toml explains why not `--release`).
cargo test --workspace --profile ci --locked "$@"
