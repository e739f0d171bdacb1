#!/usr/bin/env python3
"""Where things are in a screenshot (standard library only: PNG decoded with zlib).

    png_layout.py FILE.png

Prints JSON: the image size, the bounding box of the pixels of the confirmation page's button
colour (#b3261e), of the card (white), and of the text colour (#1d2330) above the button, so a
test can tell a left-to-right page from a right-to-left one without trusting the HTML.
"""
import json
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "only 8-bit RGB(A), not interlaced"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def box(points):
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"left": min(xs), "top": min(ys), "right": max(xs), "bottom": max(ys), "pixels": len(points)}


def main():
    width, height, channels, rows = read_png(sys.argv[1])
    button, card, text = [], [], []
    for y, line in enumerate(rows):
        for x in range(width):
            r, g, b = line[x * channels:x * channels + 3]
            if abs(r - 0xb3) < 24 and abs(g - 0x26) < 24 and abs(b - 0x1e) < 24:
                button.append((x, y))
            elif r > 250 and g > 250 and b > 250:
                card.append((x, y))
            elif r < 90 and g < 90 and b < 110:
                text.append((x, y))
    button_box = box(button)
    if button_box:
        text = [p for p in text if p[1] < button_box["top"]]
    print(json.dumps({"width": width, "height": height, "button": button_box, "card": box(card), "text": box(text)}))


if __name__ == "__main__":
    main()
