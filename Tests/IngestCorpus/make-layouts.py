#!/usr/bin/env python3
"""Writes the corpus layouts that are binary or in another encoding than UTF-8, as the tools
write them (see README.md): Google Contacts' "Google CSV" (UTF-16 with a byte-order mark), a
French Excel "CSV (séparateur: point-virgule)" (Windows-1252, `sep=;` line, CRLF), and an Excel
workbook (.xlsx: a zip of XML parts, written here with zipfile so nothing is installed).

    make-layouts.py OUTDIR
"""
import sys, zipfile
from xml.sax.saxutils import escape

out = sys.argv[1]

# --- Google CSV, the old Google Contacts export (UTF-16LE, BOM, comma, CRLF) -----------------
google_header = ("Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,"
    "Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,"
    "Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,"
    "Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,"
    "Phone 2 - Type,Phone 2 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - City,"
    "Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,"
    "Organization 1 - Type,Organization 1 - Name,Organization 1 - Yomi Name,Organization 1 - Title,"
    "Organization 1 - Department,Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description,"
    "Website 1 - Type,Website 1 - Value").split(",")
google_rows = [
    {"Name": "Nathalie Roux", "Given Name": "Nathalie", "Family Name": "Roux", "Language": "Français",
     "Group Membership": "* myContacts ::: Avocats", "E-mail 1 - Type": "* Work", "E-mail 1 - Value": "n.roux@roux-avocats.fr",
     "E-mail 2 - Type": "Home", "E-mail 2 - Value": "nathalie.roux@orange.fr", "Phone 1 - Type": "Mobile",
     "Phone 1 - Value": "06 11 22 33 44", "Address 1 - Type": "Work", "Address 1 - City": "Bordeaux",
     "Address 1 - Country": "France", "Organization 1 - Type": "", "Organization 1 - Name": "Roux Avocats",
     "Organization 1 - Title": "Avocate", "Website 1 - Type": "Work", "Website 1 - Value": "https://roux-avocats.fr"},
    {"Name": "Hans Weber", "Given Name": "Hans", "Family Name": "Weber", "Language": "Deutsch",
     "Group Membership": "* myContacts ::: * starred", "E-mail 1 - Type": "* Other", "E-mail 1 - Value": "hans.weber@weber-recht.de",
     "Phone 1 - Type": "Work", "Phone 1 - Value": "+49 30 12345678", "Address 1 - City": "Berlin",
     "Address 1 - Country": "Allemagne", "Organization 1 - Name": "Weber Recht"},
    {"Name": "Ngozi Okafor", "Given Name": "Ngozi", "Family Name": "Okafor", "Language": "English",
     "Group Membership": "* myContacts", "E-mail 1 - Type": "* Work", "E-mail 1 - Value": "ngozi@okafor-legal.ng ::: ngozi.okafor@yahoo.com",
     "Phone 1 - Type": "Mobile", "Phone 1 - Value": "0803 123 4567", "Address 1 - City": "Lagos",
     "Address 1 - Country": "Nigeria", "Organization 1 - Name": "Okafor Legal"},
]
def csv_line(values, sep):
    def q(v):
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in (sep, '"', "\n", "\r")) else v
    return sep.join(q(v) for v in values)
text = "\r\n".join([csv_line(google_header, ",")] + [csv_line([r.get(h, "") for h in google_header], ",") for r in google_rows]) + "\r\n"
with open(f"{out}/google-csv-utf16.csv", "wb") as f:
    f.write(text.encode("utf-16"))   # Python writes the byte-order mark, little-endian here

# --- French Excel "CSV (séparateur: point-virgule)": Windows-1252, sep=;, CRLF ---------------
fr_header = ["Civilité", "Nom", "Prénom", "Société", "Adresse e-mail", "Téléphone", "Portable", "Ville", "Pays", "Langue", "Catégorie"]
fr_rows = [
    ["Mme", "Lefèvre", "Hélène", "Lefèvre & Associés", "helene.lefevre@lefevre-associes.fr", "01 45 67 89 10", "06 39 98 01 14", "Paris", "France", "Français", "Avocat"],
    ["M.", "Dubois", "François", "Étude Dubois", "f.dubois@etude-dubois.be", "02 512 34 56", "0470 12 34 56", "Bruxelles", "Belgique", "Français", "Notaire"],
    ["M.", "Schneider", "Jürgen", "Schneider Rechtsanwälte", "j.schneider@schneider-ra.de", "", "0151 23456789", "München", "Allemagne", "Allemand", "Avocat"],
    ["Mme", "Benali", "Yasmina", "Cabinet Benali", "y.benali@cabinet-benali.ma", "", "06 61 23 45 67", "Rabat", "Maroc", "Arabe", "Conseil"],
    ["M.", "Al Nuaimi", "Khalid", "", "khalid@alnuaimi-legal.ae", "", "+971 50 123 4567", "Abou Dabi", "Émirats arabes unis", "Anglais", "Avocat"],
]
text = "sep=;\r\n" + "\r\n".join(csv_line(r, ";") for r in [fr_header] + fr_rows) + "\r\n"
with open(f"{out}/excel-fr-cp1252.csv", "wb") as f:
    f.write(text.encode("cp1252"))

# --- An Excel workbook: a title row before the header, shared and inline strings, a phone
#     typed as a number (its leading 0 lost), rich text, a second sheet ----------------------
sheet1 = [
    ["Contacts — export du 3 mars 2026"],
    [],
    ["Email", "Prénom", "Nom", "Entreprise", "Téléphone", "Pays", "Langue"],
    ["camille.fontaine@fontaine-avocats.fr", "Camille", "Fontaine", "Fontaine Avocats", 612345678, "France", "fr-FR"],
    ["pedro.alves@alves.pt", "Pedro", "Alves", "Alves & Filhos", "+351 912 345 678", "Portugal", "pt-BR"],
    ["zhang.min@example.cn", "敏", "张", ("北京", "律所"), "", "中国", "zh_Hans"],
]
sheet2 = [["Email"], ["not.this.one@example.org"]]
strings = []
def shared(s):
    if s not in strings: strings.append(s)
    return strings.index(s)
def col(i):
    return chr(65 + i)
def sheet_xml(rows, inline_first_data=False):
    xml = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>']
    for n, row in enumerate(rows, start=1):
        if not row: continue
        cells = []
        for i, v in enumerate(row):
            ref = f"{col(i)}{n}"
            if v == "": continue
            if isinstance(v, int):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            elif isinstance(v, tuple):   # rich text: runs with their own formatting
                runs = "".join(f'<r><rPr><b/></rPr><t xml:space="preserve">{escape(p)}</t></r>' for p in v)
                cells.append(f'<c r="{ref}" t="inlineStr"><is>{runs}</is></c>')
            elif inline_first_data and n == 4 and i == 0:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}" t="s"><v>{shared(v)}</v></c>')
        xml.append(f'<row r="{n}">' + "".join(cells) + "</row>")
    xml.append("</sheetData></worksheet>")
    return "".join(xml)
s1 = sheet_xml(sheet1, inline_first_data=True)
s2 = sheet_xml(sheet2)
sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       f'count="{len(strings)}" uniqueCount="{len(strings)}">' + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
parts = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Contacts" sheetId="1" r:id="rId2"/><sheet name="Archive" sheetId="2" r:id="rId1"/></sheets></workbook>',
    # The relationships deliberately do not follow the sheets' order.
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    "xl/worksheets/sheet1.xml": s1,
    "xl/worksheets/sheet2.xml": s2,
    "xl/sharedStrings.xml": sst,
}
with zipfile.ZipFile(f"{out}/excel-contacts.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
    for name, body in parts.items():
        info = zipfile.ZipInfo(name, date_time=(2026, 3, 3, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, body.encode("utf-8"))
