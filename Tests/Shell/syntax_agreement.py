#!/usr/bin/env python3
"""Syntax agreement of `validate` with python email-validator, on email-validator's own test
cases and pyIsEmail's (which email-validator's test suite carries; pyIsEmail's own PyPI
distributions ship no tests).

    syntax_agreement.py SDIST_DIR VALIDATE [--min 0.99] [--min-cases 250]

SDIST_DIR is an unpacked email-validator sdist: its tests/ give the cases, its package gives
the verdict, computed here, live. The cases are every string in the column named like
`email` of each `pytest.mark.parametrize` list of tests/test_*.py, read with `ast` (never run).

email-validator's verdict: `validate_email(address, check_deliverability=False)` with its
other options at their defaults, the "practical" profile: allow_smtputf8=True,
allow_quoted_local=False, allow_domain_literal=False, allow_display_name=False,
allow_empty_local=False, strict=False, globally_deliverable=True, test_environment=False.
validate refuses an address on its syntax when its reasons include syntax,
invisible_character, idn or special_use_domain; any other verdict (valid, risky, or no_mx for
the documentation names, a deliverability fact) is an acceptance.

Prints the agreement and every disagreement; exits 1 below --min or with fewer cases than
--min-cases (the extraction broke).
"""
import argparse
import ast
import glob
import json
import os
import subprocess
import sys

REFUSING = {"syntax", "invisible_character", "idn", "special_use_domain"}


def parametrize_cases(test_dir):
    """(test name, address) for every string in an `email…` column of a parametrize list."""
    cases = []
    for path in sorted(glob.glob(os.path.join(test_dir, "test_*.py"))):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("mark.parametrize")):
                    continue
                names = ast.literal_eval(decorator.args[0])
                if isinstance(names, str):
                    names = [n.strip() for n in names.split(",")]
                columns = [i for i, n in enumerate(names) if "email" in n]
                if not columns or not isinstance(decorator.args[1], (ast.List, ast.Tuple)):
                    continue
                for row in decorator.args[1].elts:
                    cell = row
                    if len(names) > 1:
                        if not isinstance(row, (ast.Tuple, ast.List)):
                            continue
                        cell = row.elts[columns[0]]
                    try:
                        value = ast.literal_eval(cell)
                    except ValueError:
                        continue
                    if isinstance(value, str):
                        cases.append((f"{os.path.basename(path)}:{node.name}", value))
    return cases


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sdist")
    parser.add_argument("validate")
    parser.add_argument("--min", type=float, default=0.99)
    parser.add_argument("--min-cases", type=int, default=250)
    args = parser.parse_args()

    sys.path.insert(0, args.sdist)
    from email_validator import EmailNotValidError, validate_email, __version__

    cases = parametrize_cases(os.path.join(args.sdist, "tests"))
    theirs = []
    for _, address in cases:
        try:
            validate_email(address, check_deliverability=False)
            theirs.append(True)
        except EmailNotValidError:
            theirs.append(False)

    records = "".join(json.dumps({"email": a}) + "\n" for _, a in cases)
    run = subprocess.run([args.validate], input=records.encode(), capture_output=True, check=True)
    ours = []
    for line in run.stdout.decode().splitlines():
        reasons = set(json.loads(line)["validation"]["reasons"])
        ours.append(not (reasons & REFUSING))
    if len(ours) != len(cases):
        print(f"FAIL: validate wrote {len(ours)} records for {len(cases)} cases", file=sys.stderr)
        return 1

    disagreements = [(t, a, e, o) for (t, a), e, o in zip(cases, theirs, ours) if e != o]
    agreement = 1 - len(disagreements) / len(cases)
    print(f"email-validator {__version__}: {len(cases)} cases "
          f"({sum(1 for t, _ in cases if t.endswith('pyisemail_tests'))} from pyIsEmail), "
          f"{len(cases) - len(disagreements)} agree: {agreement:.2%}")
    for test, address, theirs_ok, ours_ok in disagreements:
        print(f"  disagree: {address!r} ({test}): email-validator {'accepts' if theirs_ok else 'refuses'}, "
              f"validate {'accepts' if ours_ok else 'refuses'}")
    if len(cases) < args.min_cases:
        print(f"FAIL: only {len(cases)} cases extracted (at least {args.min_cases} expected)", file=sys.stderr)
        return 1
    if agreement < args.min:
        print(f"FAIL: agreement {agreement:.2%} below {args.min:.0%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
