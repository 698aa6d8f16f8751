#!/usr/bin/env bash
# Install everything the tests and `make up` need, from the package registries only:
#   - the Python virtualenv (.venv): every package at the version and hashes of requirements.lock
#     (dev tools included; `make lock` regenerates it from pyproject.toml), then the project
#     itself without dependencies,
#   - the Kafka broker jars (deploy/kafka/libs, from Maven Central via deploy/kafka/pom.xml),
#   - PostgreSQL's server binaries (Debian's postgresql), plus java/mvn if a machine lacks them,
#   - Debian's chromium for the browser test of the setup page.
# Idempotent and fast when nothing changed: each step keeps a stamp holding the hash of the file
# it was made from, so an edit of pyproject.toml, requirements.lock or pom.xml redoes that step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
VENV_STAMP="$VENV/.rx-install-stamp"
KAFKA_DIR="$ROOT/deploy/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_STAMP="$KAFKA_LIBS/.rx-install-stamp"
PYTHON="${PYTHON:-python3}"

say() { printf 'install: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

stamp_matches() { # stamp-file expected-hash
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

have_pg_server() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

system_packages() {
    local wanted=()
    have_pg_server || wanted+=(postgresql)
    command -v java >/dev/null || wanted+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || wanted+=(maven)
    # The setup page's browser test drives Debian's Chromium (Playwright never downloads one).
    [ -x /usr/bin/chromium ] || wanted+=(chromium)
    [ "${#wanted[@]}" -eq 0 ] && return
    say "apt-get install ${wanted[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${wanted[@]}"
}

python_venv() {
    local want
    want="$(hash_of pyproject.toml requirements.lock)"
    # A venv whose interpreter is gone (moved checkout, removed Python) counts as missing.
    if stamp_matches "$VENV_STAMP" "$want" && "$VENV/bin/python" -c '' 2>/dev/null; then
        return
    fi
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        say "creating $VENV"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Exact versions, each checked against its hashes: nothing unpinned or altered gets in.
    say "pip install --require-hashes -r requirements.lock"
    "$VENV/bin/python" -m pip install -q --require-hashes -r requirements.lock
    # The project alone, built with the locked setuptools (no unhashed build environment).
    say "pip install --no-deps -e ."
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
    echo "$want" >"$VENV_STAMP"
}

kafka_jars() {
    local want
    want="$(hash_of "$KAFKA_DIR/pom.xml")"
    if stamp_matches "$KAFKA_STAMP" "$want" && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
        return
    fi
    say "resolving Kafka broker jars (mvn dependency:copy-dependencies)"
    # Start clean so a version bump in the pom leaves no stale jar on the classpath.
    rm -rf "$KAFKA_LIBS"
    mvn -q -B -Dstyle.color=never -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies
    echo "$want" >"$KAFKA_STAMP"
}

system_packages
python_venv
kafka_jars
say "ready"
