#!/usr/bin/env python3
"""Runs the shell examples of the documentation and of every --help, as they are written.

    examples.py docs FILE.md...     the ```sh blocks of each file, in order, in one scratch copy
    examples.py help                every `Example:` block of every executable's --help
    examples.py help-layout         every --help at COLUMNS=80: fits, no pre-wrapped paragraph,
                                    one default per option, no "see below"

The convention (docs/README and Tests/Shell/README say the same):
- A block runs with bash (errexit, pipefail) in a scratch copy of the repository's tracked files,
  so `samples/...` paths work; the built executables are on PATH; MAILPIPE_STATE is the copy's
  `state/`; MAILPIPE_TENANT is unset.
- A doc file's blocks share one copy and one state that starts empty, in the order they appear:
  a document tells its story from `account init` on. Fences must say their language: ```sh,
  ```bash or ```shell run; ```text, ```json, ```yaml… are shown, never run. The only way to
  keep a shell block from running is a line `<!-- examples: not run (REASON) -->` right
  before its fence; the test prints it as a SKIP with the reason (for the README's two
  commands, which are the test suite itself).
- A --help example block (the indented lines after `Example:` / `Examples:`) runs in its own
  copy whose state is prepared (PREPARE below): tenants sos-expat and ulixai with the sample
  contacts (pipelines/demo.sh), and books-demo with samples/account/contacts.ndjson.
- The secrets a deployment keeps in its environment are set: MAILPIPE_UNSUB_SECRET and the
  variables the samples' tenant.json name (unsubscribe.secret_env, mailwizz.api_key_env).
- Servers are started when a block needs them, judged from its text: `inject smtp` → Postfix,
  `inject mailwizz…` or `--mailwizz-pull` → the MailWizz double, `--mx` → dnsmasq, `inject http`
  → an HTTP endpoint.
  The copy's samples/*/tenant.json and state/*/tenant.json then point at them (smtp.url,
  mailwizz.url and list_uid); the MailWizz key is in the variable each tenant.json's
  api_key_env names; $MAILPIPE_DNS is the DNS server (every domain of the samples' addresses
  has an MX there); $ESP_URL the HTTP endpoint.
Exit status 1 when a block fails, with the file, line, block and what it printed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVERS = os.path.join(REPO, "Tests", "Servers")
BIN = os.environ["MAILPIPE_BIN"]
EXECUTABLES = ["ingest", "dedupe", "validate", "tag", "segment", "render", "inject", "account"]
RUN_LANGUAGES = {"sh", "bash", "shell"}
# The state a --help example starts from: the reference tenants with the sample contacts, and
# books-demo (samples/account/) with its contacts.
PREPARE = [
    "pipelines/demo.sh",
    "account init --tenant books-demo --config samples/account/tenant.json"
    " && account commit --tenant books-demo samples/account/contacts.ndjson",
]
TIMEOUT = 180


class Scratch:
    """A copy of the repository's tracked files, its state, and the servers started for it."""

    def __init__(self, prepared):
        self.root = tempfile.mkdtemp(prefix="mailpipe-examples-")
        os.chmod(self.root, 0o755)  # Postfix delivers as nobody: parents must be searchable
        self.copy = os.path.join(self.root, "repo")
        files = subprocess.run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard"],
                               capture_output=True, text=True)
        names = files.stdout.split("\n") if files.returncode == 0 else None
        if names is None:
            shutil.copytree(REPO, self.copy, ignore=shutil.ignore_patterns(".build*", ".git", "state"))
        else:
            for name in filter(None, names):
                source = os.path.join(REPO, name)
                if not os.path.isfile(source):
                    continue
                target = os.path.join(self.copy, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(source, target)
        self.env = {k: v for k, v in os.environ.items() if k != "MAILPIPE_TENANT"}
        self.env.update(PATH=BIN + os.pathsep + os.environ.get("PATH", ""), MAILPIPE_BIN=BIN,
                        MAILPIPE_STATE=os.path.join(self.copy, "state"), COLUMNS="80")
        self.started = {}
        # The secrets a deployment keeps in its environment, under the names tenant.json gives.
        self.env["MAILPIPE_UNSUB_SECRET"] = "example-secret"
        for path in self.tenant_files():
            secret = json.load(open(path)).get("unsubscribe", {}).get("secret_env")
            if secret:
                self.env[secret] = "example-secret"
        if prepared:
            for step in PREPARE:
                done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step], cwd=self.copy, env=self.env,
                                      capture_output=True, text=True, timeout=TIMEOUT)
                if done.returncode != 0:
                    raise SystemExit("FAIL: preparing the state (%s):\n%s" % (step, done.stderr[-2000:]))

    def tenant_files(self):
        for folder in ("samples", "state"):
            base = os.path.join(self.copy, folder)
            for dirpath, _, files in os.walk(base):
                if "tenant.json" in files and "contacts" not in dirpath:
                    yield os.path.join(dirpath, "tenant.json")

    def point_tenants(self, change):
        for path in self.tenant_files():
            with open(path) as f:
                config = json.load(f)
            change(config)
            with open(path, "w") as f:
                json.dump(config, f, indent=2, ensure_ascii=False)

    def need(self, server):
        """Starts a server once per copy; False (with the reason) when it cannot run here."""
        if server in self.started:
            return self.started[server]
        folder = os.path.join(self.root, server)
        os.makedirs(folder)
        os.chmod(folder, 0o755)
        result = True
        if server == "postfix":
            if os.geteuid() != 0:
                result = "Postfix needs root"
            else:
                url = self.script("start-postfix.sh", folder, "0")
                self.point_tenants(lambda c: c.setdefault("smtp", {}).update(url=url))
        elif server == "mailwizz":
            url = self.script("start-mailwizz-double.sh", folder)
            key = open(os.path.join(folder, "api-key")).read().strip()

            def point(config):
                mw = config.setdefault("mailwizz", {})
                mw.update(url=url, list_uid="testlist00001")
                self.env[mw.setdefault("api_key_env", "MAILWIZZ_KEY")] = key
            self.point_tenants(point)
        elif server == "dnsmasq":
            # Every domain of the samples' addresses takes mail (MX to a host on 127.0.0.1).
            records = os.path.join(folder, "sample-domains")
            with open(records, "w") as out:
                for domain in sample_domains(self.copy):
                    out.write("%s MX 10 mx.%s\nmx.%s A 127.0.0.1\n" % (domain, domain, domain))
            self.env["MAILPIPE_DNS"] = self.script("start-dnsmasq.sh", folder, "0", "--records", records)
        elif server == "http":
            port_file = os.path.join(folder, "port")
            process = subprocess.Popen([sys.executable, os.path.join(REPO, "Tests", "Shell", "http_sink.py"), port_file],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if os.path.exists(port_file) and open(port_file).read().strip():
                    break
                subprocess.run(["sleep", "0.1"])
            self.env["ESP_URL"] = "http://127.0.0.1:%s/send" % open(port_file).read().strip()
            self.started["http-process"] = process
        self.started[server] = result
        return result

    def script(self, name, *args):
        done = subprocess.run(["bash", os.path.join(SERVERS, name), *args], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise SystemExit("FAIL: %s %s could not start: %s" % (name, " ".join(args), done.stderr[-1500:]))
        return done.stdout.strip().splitlines()[-1]

    def close(self):
        stops = {"postfix": "stop-postfix.sh", "mailwizz": "stop-mailwizz-double.sh", "dnsmasq": "stop-dnsmasq.sh"}
        for server, result in self.started.items():
            if server in stops and result is True:
                subprocess.run(["bash", os.path.join(SERVERS, stops[server]), os.path.join(self.root, server)],
                               capture_output=True)
        if "http-process" in self.started:
            self.started["http-process"].kill()
        shutil.rmtree(self.root, ignore_errors=True)


def sample_domains(copy):
    """The domains of the e-mail addresses in samples/, lower-cased, IDNs in ASCII."""
    found = set()
    for dirpath, _, files in os.walk(os.path.join(copy, "samples")):
        for name in files:
            text = open(os.path.join(dirpath, name), encoding="utf-8", errors="replace").read()
            for domain in re.findall(r"[\w.+'-]+@([\w-]+(?:\.[\w-]+)+)", text):
                try:
                    found.add(domain.lower().encode("idna").decode("ascii"))
                except UnicodeError:
                    pass
    return sorted(found)


def needs(block):
    found = []
    if re.search(r"\binject\s+smtp\b", block): found.append("postfix")
    if re.search(r"\binject\s+mailwizz\b|--mailwizz-pull\b", block): found.append("mailwizz")
    if re.search(r"\binject\s+http\b", block): found.append("http")
    if re.search(r"(^|\s)--mx\b", block): found.append("dnsmasq")
    return found


def run_block(scratch, where, block):
    """Runs one example; returns None, ('skip', reason) or ('fail', message)."""
    for server in needs(block):
        ready = scratch.need(server)
        if ready is not True:
            return ("skip", "%s: %s" % (where, ready))
    try:
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=scratch.copy, env=scratch.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return ("fail", "%s: still running after %d s" % (where, TIMEOUT))
    if done.returncode == 0:
        return None
    shown = "\n".join("    " + line for line in block.splitlines())
    err = "\n".join("    " + line for line in done.stderr.strip().splitlines()[-15:])
    return ("fail", "%s: exit %d\n  the example:\n%s\n  its standard error (last lines):\n%s"
            % (where, done.returncode, shown, err or "    (nothing)"))


def doc_blocks(path):
    """(line, language, text) of every fenced block; a fence without a language is an error."""
    blocks, lines = [], open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, indent, language = i + 1, len(m.group(1)), m.group(2)
        before = next((l for l in reversed(lines[:i]) if l.strip()), "")
        marker = re.match(r"^\s*<!-- examples: not run \((.+)\) -->\s*$", before)
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        blocks.append((start, language, "\n".join(body), marker.group(1) if marker else None))
        i += 1
    return blocks


def run_docs(paths):
    failures, skips, ran = [], [], 0
    for path in paths:
        rel = os.path.relpath(path, REPO)
        blocks = doc_blocks(path)
        for line, language, _, not_run in blocks:
            if not language:
                failures.append("%s:%d: a fence without a language: say ```sh for a command to run, "
                                "```text (or json, yaml…) for anything else" % (rel, line))
            elif not_run:
                skips.append("%s:%d: not run (%s)" % (rel, line, not_run))
        runnable = [(line, text) for line, language, text, not_run in blocks
                    if language in RUN_LANGUAGES and not not_run]
        if not runnable:
            continue
        scratch = Scratch(prepared=False)
        try:
            for n, (line, text) in enumerate(runnable, 1):
                outcome = run_block(scratch, "%s:%d (shell block %d of %d)" % (rel, line, n, len(runnable)), text)
                ran += 1
                if outcome and outcome[0] == "skip":
                    skips.append(outcome[1])
                elif outcome:
                    failures.append(outcome[1])
                    break  # later blocks of the file build on this one
        finally:
            scratch.close()
    return report(ran, failures, skips)


def help_text(command, columns):
    env = dict(os.environ, COLUMNS=str(columns), PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(command + ["--help"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit("FAIL: %s --help exited %d: %s" % (" ".join(command), done.returncode, done.stderr))
    return done.stdout


def commands():
    """Every executable and subcommand, as argv prefixes."""
    found = []

    def walk(command):
        found.append(command)
        text = help_text(command, 200)
        section = re.search(r"\nSUBCOMMANDS:\n(.*?)(\n\n|\Z)", text, re.S)
        if section:
            for line in section.group(1).split("\n"):
                m = re.match(r"^  (\S+)", line)
                if m and m.group(1) != "help":
                    walk(command + [m.group(1)])
    for executable in EXECUTABLES:
        walk([executable])
    return found


def help_examples(text):
    """The example blocks of a help text: the indented lines after `Example:` / `Examples:`."""
    blocks, lines = [], text.split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^\s*Examples?:\s*$", line):
            body, j = [], i + 1
            while j < len(lines) and lines[j].startswith("  ") and lines[j].strip():
                body.append(lines[j].strip() if not body or not body[-1].endswith("\\") else "  " + lines[j].strip())
                j += 1
            if body:
                blocks.append("\n".join(body))
    return blocks


def run_help():
    failures, skips, ran = [], [], 0
    for command in commands():
        name = " ".join(command)
        blocks = help_examples(help_text(command, 1000))
        if not blocks and len(command) > 1 or (not blocks and command[0] not in ("inject", "account")):
            failures.append("%s --help has no `Example:` block" % name)
        for n, block in enumerate(blocks, 1):
            scratch = Scratch(prepared=True)
            try:
                outcome = run_block(scratch, "%s --help, example block %d" % (name, n), block)
                ran += 1
                if outcome and outcome[0] == "skip":
                    skips.append(outcome[1])
                elif outcome:
                    failures.append(outcome[1])
            finally:
                scratch.close()
    return report(ran, failures, skips)


def display_width(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def check_help_layout():
    """Every --help at COLUMNS=80: fits, paragraphs not pre-wrapped, one default per option,
    no reference to text below."""
    failures, checked = [], 0
    for command in commands():
        name = " ".join(command) + " --help"
        narrow, wide = help_text(command, 80), help_text(command, 1000)
        checked += 1
        for n, line in enumerate(narrow.split("\n"), 1):
            if display_width(line) > 80:
                failures.append("%s at COLUMNS=80, line %d is %d columns wide: %s" % (name, n, display_width(line), line))
        overview = wide.split("\nUSAGE:")[0].split("\n")
        for a, b in zip(overview, overview[1:]):
            if a.strip() and b.strip() and not a.startswith(" ") and not b.startswith(" "):
                failures.append("%s: a paragraph is broken across lines in the source (write it as one line, "
                                "the parser wraps it): '%s' / '%s'" % (name, a[-40:], b[:40]))
        for entry in re.split(r"\n(?=  -)", narrow):
            if len(re.findall(r"\(default", entry)) > 1:
                failures.append("%s: a default said twice: %s" % (name, " ".join(entry.split())))
        if help_examples(narrow) != help_examples(wide):
            long = [l for b in help_examples(wide) for l in b.split("\n") if display_width("  " + l) > 80]
            failures.append("%s: an example is wider than 80 columns, so the parser breaks it mid-command "
                            "(continue it on the next line with \\): %s" % (name, long[:1]))
        if re.search(r"see below|\(below\)", narrow):
            failures.append("%s says 'see below'" % name)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    print("help layout: %d help texts checked, %d problems" % (checked, len(failures)))
    print("checks: %d" % checked)
    return 1 if failures else 0


def report(ran, failures, skips):
    for s in skips:
        print("SKIP: " + s)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    print("examples: %d run, %d failed, %d skipped" % (ran, len(failures), len(skips)))
    print("checks: %d" % ran)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "docs":
        sys.exit(run_docs(sys.argv[2:]))
    if len(sys.argv) == 2 and sys.argv[1] == "help":
        sys.exit(run_help())
    if len(sys.argv) == 2 and sys.argv[1] == "help-layout":
        sys.exit(check_help_layout())
    sys.exit(__doc__)
