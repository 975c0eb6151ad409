#!/usr/bin/env python3
"""Looks at a picture graft wrote, with libraries that did not write it.

check_picture.py PNG SVG WIDTH HEIGHT RRGGBB [RRGGBB ...]
PNG decodes with PIL at WIDTH x HEIGHT and has at least 150 pixels near each
colour (the curves, in the series' colours); SVG parses as XML with an <svg>
root. Exit 0 when all holds, 1 with a message otherwise; 77 when PIL is
missing (the test skips).
"""
import sys
import xml.etree.ElementTree as ET

try:
    from PIL import Image
except ImportError:
    print("python3-PIL is not installed (tools/install-deps.sh installs it)")
    sys.exit(77)


def near(p, c, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(p, c))


def main():
    png, svg, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    colours = [tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in sys.argv[5:]]
    img = Image.open(png)
    img.load()
    if img.size != (width, height):
        print(f"{png}: size {img.size}, expected {(width, height)}")
        return 1
    pixels = list(img.convert("RGB").getdata())
    for c in colours:
        n = sum(1 for p in pixels if near(p, c))
        if n < 150:
            print(f"{png}: {n} pixels near colour {c}, expected at least 150 (a curve)")
            return 1
    root = ET.parse(svg).getroot()
    if not root.tag.endswith("svg"):
        print(f"{svg}: root element {root.tag}, expected svg")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
