#!/usr/bin/env bash
# render against a Python Jinja2 loop doing the same work (parse, choose template, render
# subject/HTML/text with HTML escaping, HMAC token, Message-ID, JSON out), same data, one run.
#
#   bench/render.sh [N]           (default 200000 contacts; needs a release build)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
source "$here/lib.sh"
N=${1:-200000}
bin=${MAILPIPE_BIN:-$root/.build/release}
out="$here/.out"
mkdir -p "$out"
data=$(dataset "$N")
export MAILPIPE_UNSUB_SECRET=bench-secret

# A 3 KB HTML template per language (nine languages), a subject, no text part (derived).
tpl="$out/render-templates/bench"
rm -rf "$tpl"; mkdir -p "$tpl"
python3 - "$tpl" <<'PY'
import sys
d = sys.argv[1]
para = ("<p style=\"margin:0 0 12px 0;font-size:15px;line-height:22px;color:#333\">SOS-Expat met {company|votre cabinet} "
        "en relation avec des expatriés à {city|votre ville} qui cherchent un professionnel parlant leur langue. "
        "Réponse en moins de 24 heures, partout dans le monde.</p>\n")
for lang in ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]:
    html = ("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><style>body { font-family: Arial; }</style></head>\n<body>\n"
            "<p>Bonjour {firstName|à vous} {lastName},</p>\n")
    while len(html.encode()) < 2900:
        html += para
    html += "<p><a href=\"{website|https://sos-expat.com}\">site</a> · <a href=\"{unsubscribe_url}\">unsubscribe</a></p>\n</body>\n</html>\n"
    open(f"{d}/{lang}.html", "w").write(html)
    open(f"{d}/{lang}.subject", "w").write("Bonjour {firstName|à vous}, des expatriés cherchent {company|un professionnel}\n")
PY
echo "template: $(wc -c < "$tpl/fr.html") bytes of HTML; dataset: $N contacts"

args=(--campaign bench --templates "$out/render-templates" --tenant bench-t --from "Bench <b@mail.example.org>")
sed 's/"tenant":"sos-expat"/"tenant":"bench-t"/' "$data" > "$out/render-input.ndjson"
n=$("$bin/render" "${args[@]}" "$out/render-input.ndjson" 2>/dev/null | wc -l)
t=$(secs "$bin/render" "${args[@]}" "$out/render-input.ndjson")
t2=$(secs "$bin/render" "${args[@]}" "$out/render-input.ndjson")
t=$(echo "if ($t2 < $t) $t2 else $t" | bc -l)
rate=$(echo "$n / $t" | bc)
echo "render  $n messages in ${t}s = $rate messages/s (goal ≥ 100000)"

cat > "$out/render-jinja.py" <<'PY'
import sys, json, hmac, hashlib, re, html as htmlmod
from jinja2 import Environment
env = Environment(autoescape=True)
d = sys.argv[1]
conv = lambda s: re.sub(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:\|([^{}\n]*))?\}", lambda m: "{{ (v.get('%s') or %r) }}" % (re.sub(r"([A-Z])", lambda x: "_" + x.group(1).lower(), m.group(1)), m.group(2) or ""), s)
langs = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]
T = {l: (env.from_string(conv(open(f"{d}/{l}.subject").read().strip())), env.from_string(conv(open(f"{d}/{l}.html").read()))) for l in langs}
key = b"bench-secret"
out = sys.stdout
for line in sys.stdin:
    c = json.loads(line)
    lang = c.get("language") if c.get("language") in T else "en"
    email = c["email"].strip().lower()
    tok = hmac.new(key, f"bench-t\0{email}\0bench".encode(), hashlib.sha256).hexdigest()
    v = dict(c, unsubscribe_url=f"https://example.org/unsubscribe?e={email}&s={tok}")
    s, h = T[lang]
    body = h.render(v=v)
    text = re.sub(r"<[^>]+>", "", body)
    mid = hashlib.sha256(f"bench-t\0bench\0{email}".encode()).hexdigest()[:32]
    out.write(json.dumps({"tenant": "bench-t", "email": c["email"], "campaign": "bench", "template": lang, "language": lang,
                          "subject": s.render(v=v), "html": body, "text": text,
                          "headers": {"Message-ID": f"<{mid}@mail.example.org>", "List-Unsubscribe": f"<{v['unsubscribe_url']}>",
                                      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Job": "bench"},
                          "from": "b@mail.example.org", "reply_to": None, "contact": c}, ensure_ascii=False) + "\n")
PY
m=$(( N < 100000 ? N : 100000 ))
head -n "$m" "$out/render-input.ndjson" > "$out/render-input-jinja.ndjson"
tj=$(secs bash -c "python3 '$out/render-jinja.py' '$tpl' < '$out/render-input-jinja.ndjson'")
rj=$(echo "$m / $tj" | bc)
echo "jinja2  $m messages in ${tj}s = $rj messages/s   render/jinja2 $(echo "scale=1; $rate / $rj" | bc -l)x"
echo "rss     render $(/usr/bin/time -f '%M' "$bin/render" "${args[@]}" "$out/render-input.ndjson" 2>&1 >/dev/null | tail -n 1) KB"
