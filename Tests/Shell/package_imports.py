#!/usr/bin/env python3
"""Every module a target imports is declared in Package.swift as that target's dependency
(the conventions: a module reached only through another target's dependencies builds today and
breaks when that target drops it).

    swift package dump-package | package_imports.py REPO

Modules are this package's targets and every product some target names; other imports (the
platform's: Glibc, Foundation, XCTest) are not the manifest's business. Prints one FAIL line a
missing declaration and ends with "checks: N" (targets checked).
"""
import json
import os
import re
import sys

# `import M`, `@testable import M`, `public import M`, `import struct M.T`: M.
IMPORT = re.compile(r"^[ \t]*(?:@\w+[ \t]+)*(?:(?:public|package|internal|fileprivate|private)[ \t]+)?import[ \t]+"
                    r"(?:(?:struct|class|enum|protocol|typealias|func|var|let)[ \t]+)?(\w+)", re.M)
DEFAULT_FOLDER = {"test": "Tests", "regular": "Sources", "executable": "Sources", "system": "Sources", "plugin": "Plugins"}


def main(repo):
    manifest = json.load(sys.stdin)
    targets = manifest["targets"]

    def declared(target):
        names = set()
        for dep in target["dependencies"]:
            for kind in ("byName", "target", "product"):
                if kind in dep:
                    names.add(dep[kind][0])
        return names

    modules = {t["name"] for t in targets} | {n for t in targets for n in declared(t)}
    failures, checked = [], 0
    for target in targets:
        folder = target.get("path") or os.path.join(DEFAULT_FOLDER[target["type"]], target["name"])
        imports = {}
        for root, _, files in os.walk(os.path.join(repo, folder)):
            for name in files:
                if name.endswith(".swift"):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        for module in IMPORT.findall(f.read()):
                            imports.setdefault(module, os.path.relpath(path, repo))
        checked += 1
        for module, path in sorted(imports.items()):
            if module in modules and module != target["name"] and module not in declared(target):
                failures.append("%s imports %s (%s) without declaring it in Package.swift" % (target["name"], module, path))
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    print("package imports: %d targets checked, %d undeclared" % (checked, len(failures)))
    print("checks: %d" % checked)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
