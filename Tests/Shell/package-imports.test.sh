#!/usr/bin/env bash
# Every module a target imports is declared as its dependency in Package.swift
# (Tests/Shell/package_imports.py says why and how).
source "$(dirname "$0")/lib.sh"
swift package --package-path "$REPO" dump-package > "$WORK/package.json"
counted python3 "$REPO/Tests/Shell/package_imports.py" "$REPO" < "$WORK/package.json"
done_ok
